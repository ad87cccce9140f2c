import DeviceTree

/// An AES-256-GCM encrypted item as svm-tool stores it in a node: the digests FDT
/// (`/digest/digests-fdt`) and each attachment (`/files/<name>` in the files FDT)
/// (reference/ultravisor-facts.md §3.1–§3.3).
///
/// Properties, in the order svm-tool writes them: `algorithm` = `"AES256-GCM"`,
/// `untrusted-comment`, `ciphertext`, `iv` (16 bytes), `mac` (16 bytes). libfdt's
/// `fdt_setprop` puts a new property before the node's existing ones, so they are
/// stored in the reverse order, in svm-tool's blobs and here alike.
public struct ESMSealedItem: Sendable, Hashable {
    /// The only algorithm svm-tool writes and accepts.
    public static let aes256GCM = "AES256-GCM"

    /// The `algorithm` string (the Ultravisor requires the property but never reads it).
    public var algorithm: String
    /// `untrusted-comment`: free text, no newline, not authenticated.
    public var comment: String
    /// The ciphertext, as long as the plaintext.
    public var ciphertext: [UInt8]
    /// The GCM nonce.
    public var iv: [UInt8]
    /// The GCM tag.
    public var mac: [UInt8]

    /// Makes an item from its parts.
    public init(algorithm: String = ESMSealedItem.aes256GCM, comment: String = "", ciphertext: [UInt8], iv: [UInt8], mac: [UInt8]) {
        self.algorithm = algorithm
        self.comment = comment
        self.ciphertext = ciphertext
        self.iv = iv
        self.mac = mac
    }

    /// Encrypts `plaintext` with the master key: a fresh random 16-byte IV (unless one is
    /// given, for reproducible tests), a 16-byte tag, no AAD.
    /// - Throws: `.invalidComment` if the comment has a newline.
    public static func seal(
        _ plaintext: [UInt8], masterKey: ESMMasterKey, comment: String = "", iv: [UInt8]? = nil
    ) throws(ESMError) -> ESMSealedItem {
        try ESMSealedItem.checkComment(comment)
        let nonce = iv ?? ESMCrypto.randomBytes(16)
        let (ciphertext, tag) = try ESMCrypto.gcmSeal(plaintext, key: masterKey.bytes, iv: nonce)
        return ESMSealedItem(comment: comment, ciphertext: ciphertext, iv: nonce, mac: tag)
    }

    /// Decrypts and authenticates.
    /// - Parameters:
    ///   - masterKey: the blob's master key.
    ///   - what: names the item in errors (e.g. `/digest/digests-fdt`).
    /// - Throws: `.decryptionFailed` naming `what` on a tag mismatch.
    public func open(masterKey: ESMMasterKey, what: String) throws(ESMError) -> [UInt8] {
        try ESMCrypto.gcmOpen(ciphertext: ciphertext, key: masterKey.bytes, iv: iv, tag: mac, what: what)
    }

    /// Reads the item stored at `path`. `algorithm`, `iv`, `mac` and `ciphertext` are
    /// required, as the Ultravisor requires them (`svm_esmb_file_get`); a missing
    /// `untrusted-comment` reads as empty.
    /// - Throws: `.notFound` naming the node or the property.
    public init(tree: DeviceTree, path: String) throws(ESMError) {
        guard tree.hasNode(path) else { throw ESMError(.notFound, "node \(path) not found") }
        func required(_ name: String) throws(ESMError) -> [UInt8] {
            guard let v = tree.propertyIfPresent(name, at: path) else {
                throw ESMError(.notFound, "\(path): missing property: \(name)")
            }
            return v
        }
        let algorithm = try required("algorithm")
        self.iv = try required("iv")
        self.mac = try required("mac")
        self.ciphertext = try required("ciphertext")
        self.algorithm = String(decoding: algorithm.prefix { $0 != 0 }, as: UTF8.self)
        self.comment = tree.propertyIfPresent("untrusted-comment", at: path).map {
            String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        } ?? ""
    }

    /// Writes the properties at `path` (an existing node) in svm-tool's order (stored reversed by libfdt).
    func write(into tree: inout DeviceTree, at path: String) throws(ESMError) {
        do {
            try tree.setString("algorithm", algorithm, at: path)
            try tree.setString("untrusted-comment", comment, at: path)
            try tree.setProperty("ciphertext", ciphertext, at: path)
            try tree.setProperty("iv", iv, at: path)
            try tree.setProperty("mac", mac, at: path)
        } catch {
            throw ESMError.fdt(error, "writing \(path)")
        }
    }

    /// svm-tool refuses comments with a newline ("comment cannot contain a newline").
    static func checkComment(_ comment: String) throws(ESMError) {
        if comment.contains("\n") || comment.contains("\r\n") {
            throw ESMError(.invalidComment, "comment cannot contain a newline: \(comment.debugDescription)")
        }
    }
}
