import DeviceTree

/// An ESM blob in svm-tool's format (reference/ultravisor-facts.md §3): a flattened
/// device tree with `/compatible` = `"ibm,esm"`, `/lockboxes` (the master key wrapped for
/// each authorized RSA key), `/digest/digests-fdt` (the encrypted digests the Ultravisor
/// checks) and `/file` (`files-fdt`, the nested FDT of encrypted attachments).
///
/// Reading validates with svm-tool's own rules (``validate(_:)``); editing uses the same
/// libfdt operations in the same order as svm-tool, so node order and layout match the
/// blobs it makes (libfdt adds a new node before its siblings, so later lockboxes and
/// files come first).
///
/// ```swift
/// let owner = try ESMPrivateKey.generate(), tpm = try ESMPrivateKey.generate()
/// let key = ESMMasterKey.random()
/// var blob = try ESMBlob.create(origin: owner.publicKey, masterKey: key)
/// try blob.authorize(tpm.publicKey, masterKey: key)          // lockbox-1: the TPM's
/// try blob.setDigests(ESMDigests(kernel: k, initrd: i, bootargs: "svm=on"), masterKey: key)
/// try blob.attach(name: "rootd", contents: Array("secret".utf8), masterKey: key)
/// ```
public struct ESMBlob: Sendable, Hashable {
    /// The blob as a device tree.
    public internal(set) var tree: DeviceTree

    /// `/lockboxes`.
    public static let lockboxesPath = "/lockboxes"
    /// `/digest/digests-fdt`, the node holding the encrypted digests FDT.
    public static let digestsPath = "/digest/digests-fdt"
    /// `/file`, whose `files-fdt` property holds the nested files FDT.
    public static let filePath = "/file"
    /// The lockbox the Ultravisor opens with the TPM (and the only one it uses).
    public static let ultravisorLockboxName = "lockbox-1"

    /// Parses and validates a blob as svm-tool's `valid_esm` does.
    /// - Throws: `.malformedDeviceTree` when libfdt refuses the bytes, `.invalidBlob`
    ///   saying exactly which node or property is missing, unexpected or wrong.
    public init(bytes: some Collection<UInt8>) throws(ESMError) {
        let tree: DeviceTree
        do { tree = try DeviceTree(bytes: bytes) } catch { throw ESMError.fdt(error, "ESM blob") }
        try Self.validate(tree)
        self.tree = tree
    }

    /// Wraps a tree built here.
    init(trusted tree: DeviceTree) { self.tree = tree }

    /// The blob bytes (packed).
    public var bytes: [UInt8] { tree.bytes }

    // MARK: Lockboxes

    /// Every lockbox, in blob order (newest recipient first, as libfdt stores them).
    public func lockboxes() throws(ESMError) -> [ESMLockbox] {
        let names: [String]
        do { names = try tree.subnodes(of: Self.lockboxesPath) } catch { throw ESMError.fdt(error, Self.lockboxesPath) }
        var out: [ESMLockbox] = []
        for name in names { out.append(try lockbox(named: name)) }
        return out
    }

    /// The lockbox called `name` (`origin-lockbox`, `lockbox-1`…).
    /// - Throws: `.notFound` naming the node or property that is missing.
    public func lockbox(named name: String) throws(ESMError) -> ESMLockbox {
        let path = Self.lockboxesPath + "/" + name
        guard tree.hasNode(path) else { throw ESMError(.notFound, "lockbox \(path) not found") }
        guard let symkey = tree.propertyIfPresent("encrypted-symkey", at: path) else {
            throw ESMError(.notFound, "\(path): missing property: encrypted-symkey")
        }
        let fp = path + "/pubkey-fingerprint"
        guard let hash = tree.propertyIfPresent("hash", at: fp) else {
            throw ESMError(.notFound, "\(fp): missing property: hash")
        }
        return ESMLockbox(
            name: name, comment: Self.string(tree.propertyIfPresent("untrusted-comment", at: path) ?? []),
            encryptedSymKey: symkey, fingerprintAlgorithm: Self.string(tree.propertyIfPresent("algorithm", at: fp) ?? []),
            fingerprint: hash)
    }

    /// The first lockbox (in blob order) whose fingerprint is `fingerprint`.
    public func lockbox(withFingerprint fingerprint: [UInt8]) throws(ESMError) -> ESMLockbox? {
        try lockboxes().first { $0.fingerprint == fingerprint }
    }

    /// Unwraps the master key with a private key, as svm-tool's `extract_symkey`: the
    /// lockbox is found by the fingerprint of the key's svm-tool re-export (PEM + `"\n"`,
    /// reference/ultravisor-facts.md §3.5). Unlike svm-tool, when no fingerprint matches,
    /// every lockbox is also tried by decryption, so a key whose public file was
    /// formatted differently still works.
    /// - Throws: `.notAuthorized` ("not an authorized key") when no lockbox opens;
    ///   `.decryptionFailed` ("does not decrypt to a valid key") when the key's own
    ///   lockbox is damaged.
    public func masterKey(using key: ESMPrivateKey) throws(ESMError) -> ESMMasterKey {
        try masterKeyAndLockbox(using: key).key
    }

    /// The master key and the name of the lockbox that gave it.
    public func masterKeyAndLockbox(using key: ESMPrivateKey) throws(ESMError) -> (key: ESMMasterKey, lockbox: String) {
        let all = try lockboxes()
        let fp = key.fingerprint
        let ordered = all.filter { $0.fingerprint == fp } + all.filter { $0.fingerprint != fp }
        for box in ordered {
            if let plain = try? key.decrypt(box.encryptedSymKey), let master = try? ESMMasterKey(bytes: plain) {
                return (master, box.name)
            }
        }
        if let matching = all.first(where: { $0.fingerprint == fp }) {
            // The key is the lockbox's recipient, but what the lockbox holds is damaged.
            throw ESMError(
                .decryptionFailed,
                "\(matching.name) is this key's lockbox (SHA-256 fingerprint \(ESMHex.encode(fp))), but its encrypted-symkey "
                    + "(\(matching.encryptedSymKey.count) bytes) does not decrypt to a valid key: the lockbox is damaged")
        }
        throw ESMError(
            .notAuthorized,
            "not an authorized key: its public key (SHA-256 fingerprint \(ESMHex.encode(fp))) matches no lockbox "
                + "and it opens none of \(all.map(\.name).joined(separator: ", "))")
    }

    // MARK: Digests and files

    /// The encrypted digests FDT (`/digest/digests-fdt`), or `nil` when none was added.
    public func sealedDigests() throws(ESMError) -> ESMSealedItem? {
        guard tree.hasNode(Self.digestsPath) else { return nil }
        return try ESMSealedItem(tree: tree, path: Self.digestsPath)
    }

    /// Decrypts and reads the digests.
    /// - Throws: `.notFound` when the blob has no digests, `.decryptionFailed` on a
    ///   wrong key or a changed ciphertext/iv/mac.
    public func digests(masterKey: ESMMasterKey) throws(ESMError) -> ESMDigests {
        guard let item = try sealedDigests() else { throw ESMError(.notFound, "the blob has no \(Self.digestsPath)") }
        return try ESMDigests(deviceTreeBytes: item.open(masterKey: masterKey, what: Self.digestsPath))
    }

    /// The raw bytes of `/file/files-fdt` (what the Ultravisor copies into the files-FDT
    /// page), or `nil` before the first attachment.
    public var filesFDTBytes: [UInt8]? { tree.propertyIfPresent("files-fdt", at: Self.filePath) }

    /// The nested files FDT, or `nil` before the first attachment.
    public func filesFDT() throws(ESMError) -> ESMFilesFDT? {
        guard let bytes = filesFDTBytes else { return nil }
        return try ESMFilesFDT(bytes: bytes)
    }

    /// The attachment names, in blob order (newest first). Empty without a files FDT.
    public func attachmentNames() throws(ESMError) -> [String] {
        try filesFDT()?.names() ?? []
    }

    /// Decrypts attachment `name` (svm-tool's `extract`, which looks in the wrong place
    /// in the tool itself, reference/ultravisor-facts.md §3.8).
    /// - Throws: `.notFound` ("not attached"), `.decryptionFailed`.
    public func extract(_ name: String, masterKey: ESMMasterKey) throws(ESMError) -> [UInt8] {
        guard let files = try filesFDT() else { throw ESMError(.notFound, "\(name): not attached (the blob has no files)") }
        return try files.decrypt(name, masterKey: masterKey)
    }

    /// The text of a string property (up to its first NUL).
    static func string(_ raw: [UInt8]) -> String { String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
}
