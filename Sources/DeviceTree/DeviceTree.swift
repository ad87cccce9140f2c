internal import CLibFDT

/// A flattened device tree (FDT, "dtb"): a value type that owns the blob and reads
/// and edits it through Debian's libfdt.
///
/// Nodes are named by absolute path (`/chosen`, `/cpus/PowerPC,POWER9@0`). Every
/// operation that can fail throws ``FDTError`` naming the path or property concerned;
/// untrusted input is checked in full with `fdt_check_full` before any other call
/// (swift-notes §1.5, pitfall 13).
///
/// ```swift
/// var tree = try DeviceTree(bytes: blob)
/// let args = try tree.string("bootargs", at: "/chosen")
/// try tree.setString("bootargs", "svm=on", at: "/chosen")
/// print(tree.renderDTS())          // the text `dtc -I dtb -O dts` prints
///
/// let guest = try PseriesTreeBuilder.tree(PseriesTreeOptions(memoryBytes: 4 << 30, cpuCount: 4))
/// ```
public struct DeviceTree: Hashable, Sendable {
    var blob: AlignedBlob

    /// The size of the header (`struct fdt_header`), 40 bytes.
    public static let headerSize = 40
    /// `FDT_MAGIC`, 0xd00dfeed.
    public static let magic: UInt32 = 0xD00D_FEED
    /// The deepest node nesting ``init(bytes:)`` accepts below the root: 64, Linux's
    /// `FDT_MAX_DEPTH` (`drivers/of/fdt.c`). Walks over a tree recurse per level, so
    /// an untrusted blob must not choose the depth.
    public static let maximumDepth = 64

    /// Parses and validates a blob: header, block offsets and the whole structure
    /// block. The bytes are copied into 8-byte-aligned storage first, so a blob from
    /// any offset of a file or of guest memory is accepted.
    ///
    /// - Throws: ``FDTError`` with `.truncated`, `.badMagic`, `.badVersion`,
    ///   `.badStructure` (also for nesting deeper than ``maximumDepth``),
    ///   `.badOffset`… and the offset or size that was wrong.
    public init(bytes: some Collection<UInt8>) throws(FDTError) {
        let blob = AlignedBlob(bytes)
        guard blob.count >= Self.headerSize else {
            throw FDTError(.truncated, "\(blob.count) bytes is shorter than the 40-byte header")
        }
        let (magic, total) = blob.withUnsafeBytes { (clibfdt_magic($0.baseAddress), clibfdt_totalsize($0.baseAddress)) }
        guard magic == Self.magic else {
            throw FDTError(.badMagic, "magic is 0x\(String(magic, radix: 16)), expected 0xd00dfeed")
        }
        guard Int(total) <= blob.count else {
            throw FDTError(.truncated, "header totalsize \(total) is larger than the \(blob.count) bytes given")
        }
        let rc = blob.withUnsafeBytes { fdt_check_full($0.baseAddress, $0.count) }
        if rc < 0 { throw FDTError(libfdt: rc, "fdt_check_full over \(blob.count) bytes") }
        try Self.checkReserveMapLayout(blob)
        let depth = blob.withUnsafeBytes { fdt in
            var deepest: Int32 = 0
            var depth: Int32 = 0
            var node: Int32 = 0
            while node >= 0, deepest <= Int32(Self.maximumDepth) {
                deepest = max(deepest, depth)
                node = fdt_next_node(fdt.baseAddress, node, &depth)
            }
            return Int(deepest)
        }
        guard depth <= Self.maximumDepth else {
            throw FDTError(.badStructure, "nodes nested deeper than \(Self.maximumDepth) levels")
        }
        var trimmed = blob
        trimmed.resize(to: Int(total))
        self.blob = trimmed
    }

    /// Checks that the memory reserve map, up to and including its terminating
    /// entry, ends inside the blob and overlaps neither the structure block nor the
    /// strings block.
    ///
    /// `fdt_check_full` checks only where the map starts, and libfdt's read-write
    /// functions assume a map of one entry when they check the block order
    /// (`fdt_blocks_misordered_`), while `fdt_pack` moves the blocks by the real
    /// entry count (`fdt_num_mem_rsv`): a map running into the structure block made
    /// `pack()` write past the end of the buffer (a heap overflow found by fuzzing
    /// under AddressSanitizer, Fuzz/README.md).
    static func checkReserveMapLayout(_ blob: AlignedBlob) throws(FDTError) {
        let (count, map, structure, strings) = blob.withUnsafeBytes { raw in
            let fdt = raw.baseAddress
            let version = clibfdt_version(fdt)
            let structSize = version >= 17 ? Int(clibfdt_size_dt_struct(fdt)) : 0
            return (
                Int(fdt_num_mem_rsv(fdt)),
                Int(clibfdt_off_mem_rsvmap(fdt)),
                Int(clibfdt_off_dt_struct(fdt))..<Int(clibfdt_off_dt_struct(fdt)) + structSize,
                Int(clibfdt_off_dt_strings(fdt))..<Int(clibfdt_off_dt_strings(fdt)) + Int(clibfdt_size_dt_strings(fdt)))
        }
        guard count >= 0 else {
            throw FDTError(libfdt: Int32(count), "memory reserve map at offset \(map) has no terminating entry")
        }
        let entrySize = 16  // sizeof(struct fdt_reserve_entry)
        let extent = map..<map + (count + 1) * entrySize
        for (name, block) in [("structure", structure), ("strings", strings)] where extent.overlaps(block) {
            throw FDTError(.badLayout,
                "memory reserve map (\(count) entries and the terminator, bytes \(extent.lowerBound)..<\(extent.upperBound)) overlaps the \(name) block (bytes \(block.lowerBound)..<\(block.upperBound))")
        }
    }

    /// An empty tree (a root node only) with room to grow.
    public init() {
        var blob = AlignedBlob(byteCount: 4096)
        _ = blob.withUnsafeMutableBytes { fdt_create_empty_tree($0.baseAddress, Int32($0.count)) }
        self.blob = blob
        try? pack()
    }

    /// Wraps a blob already known to be valid (built by libfdt here).
    init(trusted blob: AlignedBlob) { self.blob = blob }

    /// The blob, exactly `totalSize` bytes.
    public var bytes: [UInt8] { blob.bytes }

    // MARK: Header

    /// `totalsize`: the size of the blob in bytes.
    public var totalSize: Int { Int(blob.withUnsafeBytes { clibfdt_totalsize($0.baseAddress) }) }
    /// `version` (17 for trees dtc and libfdt write).
    public var version: Int { Int(blob.withUnsafeBytes { clibfdt_version($0.baseAddress) }) }
    /// `last_comp_version`.
    public var lastCompatibleVersion: Int { Int(blob.withUnsafeBytes { clibfdt_last_comp_version($0.baseAddress) }) }
    /// `size_dt_struct`.
    public var structureBlockSize: Int { Int(blob.withUnsafeBytes { clibfdt_size_dt_struct($0.baseAddress) }) }
    /// `size_dt_strings`.
    public var stringsBlockSize: Int { Int(blob.withUnsafeBytes { clibfdt_size_dt_strings($0.baseAddress) }) }

    /// `boot_cpuid_phys`: the physical id of the boot CPU.
    public var bootCPUIDPhys: UInt32 {
        get { blob.withUnsafeBytes { clibfdt_boot_cpuid_phys($0.baseAddress) } }
        set { blob.withUnsafeMutableBytes { clibfdt_set_boot_cpuid_phys($0.baseAddress, newValue) } }
    }

    // MARK: Nodes

    /// The structure-block offset of the node at `path`.
    func offset(of path: String) throws(FDTError) -> Int32 {
        let rc = blob.withUnsafeBytes { fdt_path_offset($0.baseAddress, path) }
        if rc < 0 { throw FDTError(libfdt: rc, path) }
        return rc
    }

    /// Whether a node exists at `path`.
    public func hasNode(_ path: String) -> Bool { (try? offset(of: path)) != nil }

    /// The names of the node's children, in the order they appear in the blob.
    public func subnodes(of path: String) throws(FDTError) -> [String] {
        let node = try offset(of: path)
        return blob.withUnsafeBytes { fdt in
            var names: [String] = []
            var child = fdt_first_subnode(fdt.baseAddress, node)
            while child >= 0 {
                if let p = fdt_get_name(fdt.baseAddress, child, nil) { names.append(String(cString: p)) }
                child = fdt_next_subnode(fdt.baseAddress, child)
            }
            return names
        }
    }

    /// The absolute paths of every node, depth first, in blob order (root first).
    ///
    /// The walk goes by structure-block offset, so every node is listed once with
    /// its own children even where a path does not name it alone (sibling nodes with
    /// the same name, which dtc refuses but a blob can hold: both are listed, under
    /// the same path; found by fuzzing, Fuzz/README.md).
    public func allNodePaths() -> [String] {
        blob.withUnsafeBytes { fdt in
            var out: [String] = []
            func walk(_ node: Int32, _ path: String) {
                out.append(path)
                var child = fdt_first_subnode(fdt.baseAddress, node)
                while child >= 0 {
                    let name = fdt_get_name(fdt.baseAddress, child, nil).map { String(cString: $0) } ?? ""
                    walk(child, Self.join(path, name))
                    child = fdt_next_subnode(fdt.baseAddress, child)
                }
            }
            walk(0, "/")
            return out
        }
    }

    /// The path of the parent of the node at `path`, checked against the tree
    /// (libfdt's `fdt_parent_offset`); `/` for a top-level node.
    /// - Throws: `.notFound` if there is no node at `path`, `.badPath` for `/`.
    public func parentPath(of path: String) throws(FDTError) -> String {
        let node = try offset(of: path)
        guard node != 0 else { throw FDTError(.badPath, "the root node has no parent") }
        let parent = blob.withUnsafeBytes { fdt_parent_offset($0.baseAddress, node) }
        if parent < 0 { throw FDTError(libfdt: parent, "parent of \(path)") }
        return try self.path(ofOffset: parent)
    }

    /// Joins a parent path and a child name.
    public static func join(_ parent: String, _ child: String) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }

    /// The parent path of `path` (`/` for a top-level node and for `/`).
    ///
    /// Splits at the last `/` scalar, as libfdt splits the bytes: a `/` followed by
    /// a combining mark is one `Character` in Swift, and splitting by `Character`
    /// missed it (found by fuzzing, Fuzz/README.md).
    public static func parent(of path: String) -> String {
        let scalars = path.unicodeScalars
        guard let slash = scalars.lastIndex(of: "/"), slash != scalars.startIndex else { return "/" }
        return String(scalars[..<slash])
    }

    // MARK: Properties

    /// The raw value of property `name` of the node at `path`.
    public func property(_ name: String, at path: String) throws(FDTError) -> [UInt8] {
        let node = try offset(of: path)
        var len: Int32 = 0
        let value: [UInt8]? = blob.withUnsafeBytes { fdt in
            guard let p = fdt_getprop(fdt.baseAddress, node, name, &len) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
        }
        guard let value else { throw FDTError(libfdt: len, "\(path) property \(name)") }
        return value
    }

    /// The raw value, or `nil` when the node or the property is missing.
    public func propertyIfPresent(_ name: String, at path: String) -> [UInt8]? {
        try? property(name, at: path)
    }

    /// Every property of the node at `path`, in blob order.
    public func properties(at path: String) throws(FDTError) -> [DeviceTreeProperty] {
        let node = try offset(of: path)
        return blob.withUnsafeBytes { fdt in
            var out: [DeviceTreeProperty] = []
            var off = fdt_first_property_offset(fdt.baseAddress, node)
            while off >= 0 {
                var len: Int32 = 0
                var namePtr: UnsafePointer<CChar>? = nil
                if let p = fdt_getprop_by_offset(fdt.baseAddress, off, &namePtr, &len), let namePtr {
                    out.append(DeviceTreeProperty(String(cString: namePtr), Array(UnsafeRawBufferPointer(start: p, count: Int(len)))))
                }
                off = fdt_next_property_offset(fdt.baseAddress, off)
            }
            return out
        }
    }

    /// A NUL-terminated string property, without its NUL.
    /// - Throws: `.badValue` if the value is empty or not NUL-terminated.
    public func string(_ name: String, at path: String) throws(FDTError) -> String {
        let raw = try property(name, at: path)
        guard let last = raw.last, last == 0 else {
            throw FDTError(.badValue, "\(path) property \(name) is not a NUL-terminated string")
        }
        return String(decoding: raw.dropLast(), as: UTF8.self)
    }

    /// A string-list property (NUL-separated strings, e.g. `compatible`).
    public func stringList(_ name: String, at path: String) throws(FDTError) -> [String] {
        let raw = try property(name, at: path)
        guard let last = raw.last, last == 0 else {
            throw FDTError(.badValue, "\(path) property \(name) is not a NUL-terminated string list")
        }
        return raw.dropLast().split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// A property holding exactly one big-endian 32-bit cell.
    public func u32(_ name: String, at path: String) throws(FDTError) -> UInt32 {
        let raw = try property(name, at: path)
        guard raw.count == 4 else {
            throw FDTError(.badValue, "\(path) property \(name) is \(raw.count) bytes, expected 4")
        }
        return BigEndianCells.u32(raw, at: 0)
    }

    /// A property holding one big-endian 64-bit value (8 bytes), or one 32-bit cell.
    public func u64(_ name: String, at path: String) throws(FDTError) -> UInt64 {
        let raw = try property(name, at: path)
        switch raw.count {
        case 8: return BigEndianCells.u64(raw, at: 0)
        case 4: return UInt64(BigEndianCells.u32(raw, at: 0))
        default: throw FDTError(.badValue, "\(path) property \(name) is \(raw.count) bytes, expected 4 or 8")
        }
    }

    /// A property as big-endian 32-bit cells.
    /// - Throws: `.badValue` if its length is not a multiple of 4.
    public func cells(_ name: String, at path: String) throws(FDTError) -> [UInt32] {
        let raw = try property(name, at: path)
        guard raw.count % 4 == 0 else {
            throw FDTError(.badValue, "\(path) property \(name) is \(raw.count) bytes, not whole cells")
        }
        return (0..<raw.count / 4).map { BigEndianCells.u32(raw, at: $0 * 4) }
    }

    /// `#address-cells` of the node at `path` (2 when absent, as in the devicetree spec).
    public func addressCells(of path: String) throws(FDTError) -> Int {
        let node = try offset(of: path)
        let rc = blob.withUnsafeBytes { fdt_address_cells($0.baseAddress, node) }
        if rc < 0 { throw FDTError(libfdt: rc, "\(path) #address-cells") }
        return Int(rc)
    }

    /// `#size-cells` of the node at `path` (1 when absent, as in the devicetree spec).
    public func sizeCells(of path: String) throws(FDTError) -> Int {
        let node = try offset(of: path)
        let rc = blob.withUnsafeBytes { fdt_size_cells($0.baseAddress, node) }
        if rc < 0 { throw FDTError(libfdt: rc, "\(path) #size-cells") }
        return Int(rc)
    }

    /// The node's `reg` as (address, size) pairs, decoded with the parent's
    /// `#address-cells` and `#size-cells`.
    /// - Throws: `.badNCells` for cell counts above 2, `.badValue` if the length is
    ///   not a whole number of entries.
    public func reg(at path: String) throws(FDTError) -> [DeviceTreeRegion] {
        let parent = Self.parent(of: path)
        let ac = try addressCells(of: parent), sc = try sizeCells(of: parent)
        guard (1...2).contains(ac), (0...2).contains(sc) else {
            throw FDTError(.badNCells, "\(parent) has #address-cells \(ac), #size-cells \(sc)")
        }
        let cells = try cells("reg", at: path)
        let per = ac + sc
        guard cells.count % per == 0 else {
            throw FDTError(.badValue, "\(path) reg has \(cells.count) cells, not a multiple of \(per)")
        }
        func value(_ slice: ArraySlice<UInt32>) -> UInt64 { slice.reduce(0) { $0 << 32 | UInt64($1) } }
        return stride(from: 0, to: cells.count, by: per).map { i in
            DeviceTreeRegion(address: value(cells[i..<i + ac]), size: value(cells[i + ac..<i + per]))
        }
    }

    /// The node's phandle (`phandle` or `linux,phandle`), or `nil` if it has none.
    public func phandle(at path: String) throws(FDTError) -> UInt32? {
        let node = try offset(of: path)
        let p = blob.withUnsafeBytes { fdt_get_phandle($0.baseAddress, node) }
        return p == 0 ? nil : p
    }

    /// The path of the node with phandle `phandle`.
    public func path(ofPhandle phandle: UInt32) throws(FDTError) -> String {
        let node = blob.withUnsafeBytes { fdt_node_offset_by_phandle($0.baseAddress, phandle) }
        if node < 0 { throw FDTError(libfdt: node, "phandle 0x\(String(phandle, radix: 16))") }
        return try path(ofOffset: node)
    }

    /// The path of the node at a structure-block offset: the names of its
    /// ancestors and its own, joined with `/` exactly as ``allNodePaths()`` joins them.
    ///
    /// Walks the structure block from the root keeping a stack of names. libfdt's
    /// `fdt_get_path` instead pops a component by scanning back to the previous `/`,
    /// so after a node whose name holds a `/` (which dtc refuses but a blob can
    /// hold) it gave wrong paths for later nodes, e.g. `/vty@/uv` for `/uv` (found
    /// by fuzzing, Fuzz/README.md). No length limit applies.
    func path(ofOffset node: Int32) throws(FDTError) -> String {
        let (path, rc): (String?, Int32) = blob.withUnsafeBytes { fdt in
            var names: [String] = []
            var offset: Int32 = 0
            var depth: Int32 = 0
            while offset >= 0, offset <= node, depth >= 0 {
                if depth > 0 {
                    guard names.count >= Int(depth) - 1 else { return (nil, -FDT_ERR_BADSTRUCTURE) }
                    names.removeSubrange(Int(depth - 1)...)
                    names.append(fdt_get_name(fdt.baseAddress, offset, nil).map { String(cString: $0) } ?? "")
                }
                if offset == node { return ("/" + names.joined(separator: "/"), 0) }
                offset = fdt_next_node(fdt.baseAddress, offset, &depth)
            }
            return (nil, offset < 0 && offset != -FDT_ERR_NOTFOUND ? offset : -FDT_ERR_BADOFFSET)
        }
        guard let path else { throw FDTError(libfdt: rc, "offset \(node)") }
        return path
    }

    /// The paths of nodes whose `compatible` list contains `compatible`, in blob order.
    public func nodes(compatibleWith compatible: String) -> [String] {
        var out: [String] = []
        var node: Int32 = -1
        while true {
            node = blob.withUnsafeBytes { fdt_node_offset_by_compatible($0.baseAddress, node, compatible) }
            guard node >= 0, let p = try? path(ofOffset: node) else { break }
            out.append(p)
        }
        return out
    }

    /// The paths of nodes whose property `name` equals `value` exactly, in blob order
    /// (e.g. `device_type` = `"cpu\0"`).
    public func nodes(withProperty name: String, equalTo value: [UInt8]) -> [String] {
        var out: [String] = []
        var node: Int32 = -1
        while true {
            node = blob.withUnsafeBytes { fdt in
                value.withUnsafeBytes { v in
                    fdt_node_offset_by_prop_value(fdt.baseAddress, node, name, v.baseAddress, Int32(v.count))
                }
            }
            guard node >= 0, let p = try? path(ofOffset: node) else { break }
            out.append(p)
        }
        return out
    }

    // MARK: Reserve map

    /// The memory reserve map, in order.
    public var reserveMap: [DeviceTreeRegion] {
        blob.withUnsafeBytes { fdt in
            let n = fdt_num_mem_rsv(fdt.baseAddress)
            guard n > 0 else { return [] }
            return (0..<n).compactMap { i in
                var address: UInt64 = 0, size: UInt64 = 0
                return fdt_get_mem_rsv(fdt.baseAddress, i, &address, &size) == 0
                    ? DeviceTreeRegion(address: address, size: size) : nil
            }
        }
    }
}

/// An (address, size) pair: a `reg` entry or a memory reserve-map entry.
public struct DeviceTreeRegion: Hashable, Sendable, CustomStringConvertible {
    /// The start address.
    public var address: UInt64
    /// The length in bytes.
    public var size: UInt64

    /// Makes a region.
    public init(address: UInt64, size: UInt64) {
        self.address = address
        self.size = size
    }

    /// The first address past the region, or `nil` if it wraps.
    public var end: UInt64? {
        let (e, o) = address.addingReportingOverflow(size)
        return o ? nil : e
    }

    /// e.g. `0x0 + 0x40000000`.
    public var description: String { "0x\(String(address, radix: 16)) + 0x\(String(size, radix: 16))" }
}
