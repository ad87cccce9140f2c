/// The blob's master key: 32 random bytes (an AES-256 key) that encrypt the digests FDT
/// and every attachment, and that each lockbox wraps for one RSA key
/// (reference/ultravisor-facts.md §3.2).
public struct ESMMasterKey: Sendable, Hashable, CustomStringConvertible {
    /// The key bytes.
    public let bytes: [UInt8]

    /// Wraps key bytes.
    /// - Throws: `.invalidKey` unless there are 16, 24 or 32 bytes (the Ultravisor uses
    ///   whatever length the unwrap returns; svm-tool always makes 32).
    public init(bytes: [UInt8]) throws(ESMError) {
        guard [16, 24, 32].contains(bytes.count) else {
            throw ESMError(.invalidKey, "master key is \(bytes.count) bytes; AES needs 16, 24 or 32 (svm-tool makes 32)")
        }
        self.bytes = bytes
    }

    /// A new random 32-byte key from the system generator.
    public static func random() -> ESMMasterKey {
        // 32 bytes always pass the length check.
        (try? ESMMasterKey(bytes: ESMCrypto.randomBytes(32))) ?? ESMMasterKey(unchecked: ESMCrypto.randomBytes(32))
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// Says the length only, never the key.
    public var description: String { "ESMMasterKey(\(bytes.count) bytes)" }
}
