/// One lockbox of `/lockboxes`: the master key wrapped for one RSA key
/// (reference/ultravisor-facts.md §3.1).
///
/// `origin-lockbox` is the owner's; recipients are `lockbox-N`, N ≥ 1. The Ultravisor
/// only ever opens `lockbox-1`, so that must be the TPM's key.
public struct ESMLockbox: Sendable, Hashable {
    /// The node name: `origin-lockbox` or `lockbox-N`.
    public var name: String
    /// `untrusted-comment`.
    public var comment: String
    /// `encrypted-symkey`: RSA-OAEP-SHA-256 of the master key.
    public var encryptedSymKey: [UInt8]
    /// `pubkey-fingerprint/algorithm` (`"SHA256"`).
    public var fingerprintAlgorithm: String
    /// `pubkey-fingerprint/hash`: SHA-256 of the recipient's public-key file.
    public var fingerprint: [UInt8]

    /// Makes a lockbox value.
    public init(name: String, comment: String, encryptedSymKey: [UInt8], fingerprintAlgorithm: String = "SHA256", fingerprint: [UInt8]) {
        self.name = name
        self.comment = comment
        self.encryptedSymKey = encryptedSymKey
        self.fingerprintAlgorithm = fingerprintAlgorithm
        self.fingerprint = fingerprint
    }

    /// Whether this is `origin-lockbox`.
    public var isOrigin: Bool { name == "origin-lockbox" }

    /// 0 for the origin, N for `lockbox-N`, `nil` for any other name.
    public var number: Int? { Self.number(ofLockboxNamed: name) }

    /// svm-tool's numbering: `origin-lockbox` is 0, `lockbox-N` is N (N ≥ 1, decimal).
    public static func number(ofLockboxNamed name: String) -> Int? {
        if name == "origin-lockbox" { return 0 }
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "lockbox", !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII),
            parts[1].allSatisfy(\.isNumber), let n = Int(parts[1]), n >= 1
        else { return nil }
        return n
    }

    /// `origin` or `recipient`, as svm-tool's `display` labels them.
    public var role: String { isOrigin ? "origin" : "recipient" }
}
