internal import CLibFDT

extension DeviceTree {
    /// Runs a read-write libfdt call; on `-FDT_ERR_NOSPACE` grows the blob with
    /// `fdt_open_into` and tries again. Returns the call's non-negative result.
    @discardableResult
    mutating func editing(
        _ what: @autoclosure () -> String, _ body: (UnsafeMutableRawPointer?) -> Int32
    ) throws(FDTError) -> Int32 {
        var attempts = 0
        while true {
            let rc = blob.withUnsafeMutableBytes { body($0.baseAddress) }
            if rc >= 0 { return rc }
            guard rc == -FDT_ERR_NOSPACE, attempts < 24 else { throw FDTError(libfdt: rc, what()) }
            attempts += 1
            try grow(by: max(4096, blob.count))
        }
    }

    /// Adds `extra` bytes of free space at the end of the blob (libfdt's
    /// `fdt_open_into` into a larger buffer), e.g. to leave room for reserve-map
    /// entries another party adds later. Edits grow the blob by themselves.
    /// - Throws: `.badValue` if `extra` is negative or the size would pass 2 GiB.
    public mutating func grow(by extra: Int) throws(FDTError) {
        let old = blob
        guard extra >= 0, extra <= Int(Int32.max) - old.count else {
            throw FDTError(.badValue, "growing a \(old.count)-byte tree by \(extra) bytes")
        }
        var bigger = AlignedBlob(byteCount: old.count + extra)
        let rc = old.withUnsafeBytes { src in
            bigger.withUnsafeMutableBytes { dst in fdt_open_into(src.baseAddress, dst.baseAddress, Int32(dst.count)) }
        }
        if rc < 0 { throw FDTError(libfdt: rc, "growing the tree to \(old.count + extra) bytes") }
        blob = bigger
    }

    /// Removes free space: `fdt_pack`, then trims the storage to `totalsize`.
    public mutating func pack() throws(FDTError) {
        try editing("packing") { fdt_pack($0) }
        blob.resize(to: totalSize)
    }

    /// Sets property `name` of the node at `path` to `value`, creating it if needed.
    public mutating func setProperty(_ name: String, _ value: [UInt8], at path: String) throws(FDTError) {
        let node = try offset(of: path)
        try editing("\(path) property \(name)") { fdt in
            value.withUnsafeBytes { v in fdt_setprop(fdt, node, name, v.baseAddress, Int32(v.count)) }
        }
    }

    /// Sets a property from a ``DeviceTreeProperty``.
    public mutating func setProperty(_ property: DeviceTreeProperty, at path: String) throws(FDTError) {
        try setProperty(property.name, property.value, at: path)
    }

    /// Sets a NUL-terminated string property.
    public mutating func setString(_ name: String, _ value: String, at path: String) throws(FDTError) {
        try setProperty(.string(name, value), at: path)
    }

    /// Sets a one-cell property.
    public mutating func setU32(_ name: String, _ value: UInt32, at path: String) throws(FDTError) {
        try setProperty(.u32(name, value), at: path)
    }

    /// Sets a two-cell (64-bit) property.
    public mutating func setU64(_ name: String, _ value: UInt64, at path: String) throws(FDTError) {
        try setProperty(.u64(name, value), at: path)
    }

    /// Deletes property `name` of the node at `path`.
    /// - Throws: `.notFound` if the node or property is missing.
    public mutating func deleteProperty(_ name: String, at path: String) throws(FDTError) {
        let node = try offset(of: path)
        try editing("\(path) property \(name)") { fdt_delprop($0, node, name) }
    }

    /// Adds an empty node `name` under `parent` and returns its path.
    ///
    /// libfdt inserts a new node before its existing siblings (swift-notes §1.5,
    /// pitfall 11); svm-tool's blobs rely on that order (reference §3.1). To build a
    /// tree in order, use ``init(root:reserveMap:bootCPUIDPhys:)``.
    /// - Throws: `.exists` if it is already there, `.badPath` for an invalid name
    ///   (empty, or holding a `/` or a NUL byte; the test is on Unicode scalars,
    ///   since a `/` followed by a combining mark is one `Character` but still a `/`
    ///   byte to libfdt: found by fuzzing, Fuzz/README.md).
    @discardableResult
    public mutating func addNode(_ name: String, under parent: String) throws(FDTError) -> String {
        guard !name.isEmpty, !name.unicodeScalars.contains("/"), !name.utf8.contains(0) else {
            throw FDTError(.badPath, "node name \"\(name)\"")
        }
        let node = try offset(of: parent)
        try editing(Self.join(parent, name)) { fdt_add_subnode($0, node, name) }
        return Self.join(parent, name)
    }

    /// Adds the node at `path` and any missing ancestors; existing nodes are kept.
    @discardableResult
    public mutating func ensureNode(_ path: String) throws(FDTError) -> String {
        if hasNode(path) { return path }
        let scalars = path.unicodeScalars
        guard scalars.first == "/", path != "/", let slash = scalars.lastIndex(of: "/") else {
            throw FDTError(.badPath, path)
        }
        let parent = Self.parent(of: path)
        try ensureNode(parent)
        return try addNode(String(scalars[scalars.index(after: slash)...]), under: parent)
    }

    /// Deletes the node at `path` and its subtree.
    public mutating func deleteNode(_ path: String) throws(FDTError) {
        guard path != "/" else { throw FDTError(.badPath, "cannot delete the root node") }
        let node = try offset(of: path)
        try editing(path) { fdt_del_node($0, node) }
    }

    /// Appends a memory reserve-map entry.
    /// - Throws: `.badValue` for a zero-size region: an entry of size 0 ends the map
    ///   for every reader (libfdt's `fdt_num_mem_rsv`, Linux's early FDT scan), so it
    ///   would vanish, and hide any entry after it (found by fuzzing, Fuzz/README.md).
    public mutating func addReserveEntry(_ region: DeviceTreeRegion) throws(FDTError) {
        try Self.checkReserveEntry(region)
        try editing("reserve map entry \(region)") { fdt_add_mem_rsv($0, region.address, region.size) }
    }

    /// Deletes reserve-map entry `index`.
    public mutating func deleteReserveEntry(at index: Int) throws(FDTError) {
        guard index >= 0, index < reserveMap.count else {
            throw FDTError(.notFound, "reserve map entry \(index) of \(reserveMap.count)")
        }
        try editing("reserve map entry \(index)") { fdt_del_mem_rsv($0, Int32(index)) }
    }

    /// Refuses a reserve-map entry of size 0, which readers take as the end of the map.
    static func checkReserveEntry(_ region: DeviceTreeRegion) throws(FDTError) {
        guard region.size != 0 else {
            throw FDTError(.badValue, "reserve map entry \(region) has size 0, which would end the map")
        }
    }
}
