import DeviceTree

extension ESMBlob {
    /// Creates a blob with an origin lockbox, as svm-tool's `esm create`: `/compatible`,
    /// then the nodes `file`, `digest`, `lockboxes` (stored in the reverse order, as
    /// libfdt prepends), then `origin-lockbox` with `untrusted-comment`,
    /// `encrypted-symkey` and `pubkey-fingerprint` {`algorithm` = `"SHA256"`, `hash`}.
    ///
    /// - Parameters:
    ///   - origin: the owner's public key; its fingerprint is SHA-256 of its file bytes.
    ///   - comment: the origin lockbox's `untrusted-comment` (no newline).
    ///   - masterKey: the blob's master key (a new random one by default).
    /// - Throws: `.invalidComment` for a comment with a newline.
    public static func create(
        origin: ESMPublicKey, comment: String = "", masterKey: ESMMasterKey = .random()
    ) throws(ESMError) -> ESMBlob {
        try ESMSealedItem.checkComment(comment)
        let wrapped = try origin.encrypt(masterKey.bytes)
        var t = DeviceTree()
        do {
            try t.setString("compatible", "ibm,esm", at: "/")
            try t.addNode("file", under: "/")
            try t.addNode("digest", under: "/")
            try t.addNode("lockboxes", under: "/")
            let box = try t.addNode("origin-lockbox", under: lockboxesPath)
            try t.setString("untrusted-comment", comment, at: box)
            try t.setProperty("encrypted-symkey", wrapped, at: box)
            let fp = try t.addNode("pubkey-fingerprint", under: box)
            try t.setString("algorithm", "SHA256", at: fp)
            try t.setProperty("hash", origin.fingerprint, at: fp)
            try t.pack()
        } catch {
            throw ESMError.fdt(error, "creating the blob")
        }
        return ESMBlob(trusted: t)
    }

    /// Authorizes a recipient, as svm-tool's `esm authorize`: a new `lockbox-N` with N =
    /// 1 + the highest existing number (origin counts as 0), so the first recipient is
    /// `lockbox-1`, the lockbox the Ultravisor opens with the TPM.
    ///
    /// - Parameters:
    ///   - recipient: the recipient's public key (for `lockbox-1`, the TPM's).
    ///   - comment: the new lockbox's `untrusted-comment` (no newline).
    ///   - masterKey: the blob's master key (``masterKey(using:)`` with an
    ///     authorized private key, as svm-tool asks for the origin's `seckey`).
    /// - Returns: the new lockbox's name.
    /// - Throws: `.alreadyAuthorized` if a lockbox has the key's fingerprint.
    @discardableResult
    public mutating func authorize(
        _ recipient: ESMPublicKey, comment: String = "", masterKey: ESMMasterKey
    ) throws(ESMError) -> String {
        try ESMSealedItem.checkComment(comment)
        let existing = try lockboxes()
        if let same = existing.first(where: { $0.fingerprint == recipient.fingerprint }) {
            throw ESMError(.alreadyAuthorized, "public key \(ESMHex.encode(recipient.fingerprint)): already authorized (\(same.name))")
        }
        let next = (existing.compactMap(\.number).max() ?? -1) + 1
        let name = "lockbox-\(max(next, 1))"
        let wrapped = try recipient.encrypt(masterKey.bytes)
        var t = tree
        do {
            let box = try t.addNode(name, under: Self.lockboxesPath)
            try t.setString("untrusted-comment", comment, at: box)
            let fp = try t.addNode("pubkey-fingerprint", under: box)
            try t.setString("algorithm", "SHA256", at: fp)
            try t.setProperty("hash", recipient.fingerprint, at: fp)
            try t.setProperty("encrypted-symkey", wrapped, at: box)
            try t.pack()
        } catch {
            throw ESMError.fdt(error, "adding \(name)")
        }
        tree = t
        return name
    }

    /// Revokes a recipient, as svm-tool's `esm revoke`: deletes the lockbox whose
    /// fingerprint is SHA-256 of the public-key file.
    /// - Returns: the name of the deleted lockbox.
    /// - Throws: `.cannotRevoke` for an unknown key ("cannot revoke unauthorized key") or
    ///   the origin key ("cannot revoke origin key").
    @discardableResult
    public mutating func revoke(_ key: ESMPublicKey) throws(ESMError) -> String {
        guard let box = try lockbox(withFingerprint: key.fingerprint) else {
            throw ESMError(.cannotRevoke, "public key \(ESMHex.encode(key.fingerprint)): cannot revoke unauthorized key")
        }
        guard !box.isOrigin else { throw ESMError(.cannotRevoke, "cannot revoke origin key (origin-lockbox)") }
        var t = tree
        do {
            try t.deleteNode(Self.lockboxesPath + "/" + box.name)
            try t.pack()
        } catch {
            throw ESMError.fdt(error, "deleting \(box.name)")
        }
        tree = t
        return box.name
    }

    /// Stores the digests, as svm-tool's `esm digest`: the digests FDT encrypted with the
    /// master key into the node `/digest/digests-fdt` (`algorithm`, `untrusted-comment`,
    /// `ciphertext`, `iv`, `mac`). An existing node is replaced (svm-tool fails on a
    /// second `digest` because the node exists).
    /// - Parameters:
    ///   - digests: the SHA-512 digests the Ultravisor compares.
    ///   - comment: the node's `untrusted-comment`.
    ///   - masterKey: the blob's master key.
    ///   - iv: a fixed IV for reproducible output; a random one by default.
    public mutating func setDigests(
        _ digests: ESMDigests, comment: String = "", masterKey: ESMMasterKey, iv: [UInt8]? = nil
    ) throws(ESMError) {
        let plaintext = try digests.deviceTree().bytes
        let item = try ESMSealedItem.seal(plaintext, masterKey: masterKey, comment: comment, iv: iv)
        var t = tree
        do {
            if t.hasNode(Self.digestsPath) { try t.deleteNode(Self.digestsPath) }
            try t.ensureNode("/digest")
            try t.addNode("digests-fdt", under: "/digest")
        } catch {
            throw ESMError.fdt(error, "adding \(Self.digestsPath)")
        }
        try item.write(into: &t, at: Self.digestsPath)
        do { try t.pack() } catch { throw ESMError.fdt(error, "packing the blob") }
        tree = t
    }

    /// Attaches a file, as svm-tool's `esm attach`: encrypted with the master key into
    /// `/files/<name>` of the nested files FDT (created on first use with `compatible` =
    /// `"ibm,esm-file"`), which is stored back into `/file/files-fdt`.
    /// - Throws: `.invalidName` for a name breaking `^[A-Za-z][0-9A-Za-z,._+-]{0,30}$` or
    ///   already attached, `.tooLarge` for 64 KiB or more (the Ultravisor keeps the
    ///   length in 16 bits, reference/ultravisor-facts.md §4.3).
    public mutating func attach(
        name: String, contents: [UInt8], comment: String = "", masterKey: ESMMasterKey, iv: [UInt8]? = nil
    ) throws(ESMError) {
        guard ESMFilesFDT.isValidName(name) else {
            throw ESMError(.invalidName, "file name is invalid: \(name.debugDescription) (must match ^[A-Za-z][0-9A-Za-z,._+-]{0,30}$)")
        }
        guard contents.count < ESMFilesFDT.maximumFileSize + 1 else {
            throw ESMError(.tooLarge, "\(name): \(contents.count) bytes; attachments must be under 64 KiB (at most \(ESMFilesFDT.maximumFileSize) bytes)")
        }
        var files = try filesFDT() ?? ESMFilesFDT()
        var t = tree
        if filesFDTBytes == nil {
            // svm-tool stores the empty files FDT first, then the one with the file.
            do { try t.setProperty("files-fdt", files.bytes, at: Self.filePath) } catch { throw ESMError.fdt(error, "/file files-fdt") }
        }
        try files.add(name: name, item: ESMSealedItem.seal(contents, masterKey: masterKey, comment: comment, iv: iv))
        try Self.store(files, in: &t)
        tree = t
    }

    /// Detaches a file: removes `/files/<name>` from the nested files FDT (svm-tool's
    /// `detach` looks for `/file/<name>` in the outer tree and always says "not attached",
    /// reference/ultravisor-facts.md §3.8).
    /// - Throws: `.notFound` ("not attached").
    public mutating func detach(name: String) throws(ESMError) {
        guard var files = try filesFDT() else { throw ESMError(.notFound, "\(name): not attached (the blob has no files)") }
        try files.remove(name: name)
        var t = tree
        try Self.store(files, in: &t)
        tree = t
    }

    /// Stores `files` as `/file/files-fdt` of `tree` and packs it.
    private static func store(_ files: ESMFilesFDT, in tree: inout DeviceTree) throws(ESMError) {
        do {
            try tree.setProperty("files-fdt", files.bytes, at: filePath)
            try tree.pack()
        } catch {
            throw ESMError.fdt(error, "/file files-fdt")
        }
    }
}
