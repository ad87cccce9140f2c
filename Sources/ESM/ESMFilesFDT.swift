import DeviceTree

/// The nested files FDT stored in `/file/files-fdt` (reference/ultravisor-facts.md §3.3):
/// `/compatible` = `"ibm,esm-file"` and `/files/<name>` per attachment, each an
/// ``ESMSealedItem``. The Ultravisor copies these bytes into a reserved guest page and
/// serves UV_ESMB_GET_FILE from them (§4).
public struct ESMFilesFDT: Sendable, Hashable {
    /// The tree.
    public private(set) var tree: DeviceTree

    /// The largest attachment: the Ultravisor holds the ciphertext length in a
    /// `uint16_t` and decrypts into a 64 KiB buffer (§4.3).
    public static let maximumFileSize = 65535

    /// An empty files FDT as svm-tool's `file_fdt_get` makes it: `compatible`, an empty
    /// `/files`, packed.
    public init() {
        var t = DeviceTree()
        try? t.setString("compatible", "ibm,esm-file", at: "/")
        _ = try? t.addNode("files", under: "/")
        try? t.pack()
        tree = t
    }

    /// Reads a files FDT (e.g. ``ESMBlob/filesFDTBytes``).
    /// - Throws: `.malformedDeviceTree` when libfdt refuses the bytes.
    public init(bytes: [UInt8]) throws(ESMError) {
        do { tree = try DeviceTree(bytes: bytes) } catch { throw ESMError.fdt(error, "files FDT (/file/files-fdt)") }
    }

    /// The packed bytes.
    public var bytes: [UInt8] { tree.bytes }

    /// The attachment names in blob order (newest first, as libfdt prepends).
    public func names() -> [String] { (try? tree.subnodes(of: "/files")) ?? [] }

    /// The encrypted item `/files/<name>`.
    /// - Throws: `.notFound` ("not attached") or a missing property.
    public func item(named name: String) throws(ESMError) -> ESMSealedItem {
        guard Self.isValidName(name), tree.hasNode("/files/" + name) else {
            throw ESMError(.notFound, "\(name): not attached")
        }
        return try ESMSealedItem(tree: tree, path: "/files/" + name)
    }

    /// Decrypts attachment `name`.
    public func decrypt(_ name: String, masterKey: ESMMasterKey) throws(ESMError) -> [UInt8] {
        try item(named: name).open(masterKey: masterKey, what: "attachment \(name)")
    }

    /// Adds `/files/<name>` (before the existing files, as libfdt does).
    mutating func add(name: String, item: ESMSealedItem) throws(ESMError) {
        guard !tree.hasNode("/files/" + name) else { throw ESMError(.invalidName, "\(name): already attached") }
        var t = tree
        do {
            try t.ensureNode("/files")
            try t.addNode(name, under: "/files")
        } catch {
            throw ESMError.fdt(error, "adding /files/\(name)")
        }
        try item.write(into: &t, at: "/files/" + name)
        do { try t.pack() } catch { throw ESMError.fdt(error, "packing the files FDT") }
        tree = t
    }

    /// Removes `/files/<name>`.
    mutating func remove(name: String) throws(ESMError) {
        guard Self.isValidName(name), tree.hasNode("/files/" + name) else {
            throw ESMError(.notFound, "\(name): not attached")
        }
        var t = tree
        do {
            try t.deleteNode("/files/" + name)
            try t.pack()
        } catch {
            throw ESMError.fdt(error, "removing /files/\(name)")
        }
        tree = t
    }

    /// svm-tool's node-name rule for attachments: `^[A-Za-z][0-9A-Za-z,._+-]{0,30}$`
    /// (at most 31 characters, ASCII only).
    public static func isValidName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...31).contains(u.count) else { return false }
        func letter(_ c: UInt8) -> Bool { (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) }
        func digit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) }
        guard letter(u[0]) else { return false }
        return u.dropFirst().allSatisfy { letter($0) || digit($0) || Array(",._+-".utf8).contains($0) }
    }
}
