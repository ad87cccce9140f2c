internal import CLibFDT

extension DeviceTree {
    /// Builds a new tree with libfdt's sequential-write API, keeping nodes and
    /// properties in the order given (unlike `fdt_add_subnode`, which prepends:
    /// swift-notes §1.5, pitfall 11).
    ///
    /// - Parameters:
    ///   - root: the root node (its name is ignored).
    ///   - reserveMap: memory reserve-map entries.
    ///   - bootCPUIDPhys: the header's `boot_cpuid_phys`.
    /// - Throws: ``FDTError`` if a name is invalid for libfdt; `.badValue` for a
    ///   reserve-map entry of size 0, which readers take as the end of the map.
    public init(root: DeviceTreeNode, reserveMap: [DeviceTreeRegion] = [], bootCPUIDPhys: UInt32 = 0) throws(FDTError) {
        for r in reserveMap { try Self.checkReserveEntry(r) }
        var capacity = max(4096, Self.sizeBound(root: root, reserveMap: reserveMap))
        while true {
            var blob = AlignedBlob(byteCount: capacity)
            let rc = blob.withUnsafeMutableBytes { buf -> Int32 in
                Self.writeSequentially(buf, root: root, reserveMap: reserveMap)
            }
            if rc == -FDT_ERR_NOSPACE, capacity < Int(Int32.max / 2) {
                capacity *= 2
                continue
            }
            if rc < 0 { throw FDTError(libfdt: rc, "building tree") }
            let total = Int(blob.withUnsafeBytes { clibfdt_totalsize($0.baseAddress) })
            blob.resize(to: total)
            self.init(trusted: blob)
            self.bootCPUIDPhys = bootCPUIDPhys
            return
        }
    }

    /// An upper bound of the blob's size (header, reserve map, every node and
    /// property tag, and every property name in the strings block as if none were
    /// shared), so the sequential writer never runs out of room.
    ///
    /// It must not: libfdt 1.6.1's `fdt_find_add_string_()` (sequential write)
    /// computes the room left in unsigned arithmetic that wraps when a name does not
    /// fit, and then copies the name in front of the buffer, a heap overflow that
    /// fuzzing found under AddressSanitizer (Fuzz/README.md). Growing the buffer on
    /// `-FDT_ERR_NOSPACE` is kept only as a fallback.
    static func sizeBound(root: DeviceTreeNode, reserveMap: [DeviceTreeRegion]) -> Int {
        func aligned(_ n: Int) -> Int { (n + 3) & ~3 }
        // Header (40, reserve map aligned to 16), entries and terminator, FDT_END, slack.
        var size = 48 + 16 * (reserveMap.count + 1) + 4 + 64
        func add(_ node: DeviceTreeNode) {
            size += 4 + aligned(node.name.utf8.count + 1) + 4  // FDT_BEGIN_NODE, name, FDT_END_NODE
            for p in node.properties { size += 12 + aligned(p.value.count) + p.name.utf8.count + 1 }
            for child in node.children { add(child) }
        }
        add(root)
        return size
    }

    /// Runs the sequential-write calls into `buf`; returns 0 or a negative libfdt code.
    private static func writeSequentially(
        _ buf: UnsafeMutableRawBufferPointer, root: DeviceTreeNode, reserveMap: [DeviceTreeRegion]
    ) -> Int32 {
        let fdt = buf.baseAddress
        var rc = fdt_create(fdt, Int32(buf.count))
        if rc < 0 { return rc }
        for r in reserveMap {
            rc = fdt_add_reservemap_entry(fdt, r.address, r.size)
            if rc < 0 { return rc }
        }
        rc = fdt_finish_reservemap(fdt)
        if rc < 0 { return rc }
        func emit(_ node: DeviceTreeNode, isRoot: Bool) -> Int32 {
            var rc = fdt_begin_node(fdt, isRoot ? "" : node.name)
            if rc < 0 { return rc }
            for p in node.properties {
                rc = p.value.withUnsafeBytes { v in fdt_property(fdt, p.name, v.baseAddress, Int32(v.count)) }
                if rc < 0 { return rc }
            }
            for c in node.children {
                rc = emit(c, isRoot: false)
                if rc < 0 { return rc }
            }
            return fdt_end_node(fdt)
        }
        rc = emit(root, isRoot: true)
        if rc < 0 { return rc }
        return fdt_finish(fdt)
    }

    /// The subtree at `path` as a value, properties and children in blob order.
    public func node(at path: String) throws(FDTError) -> DeviceTreeNode {
        node(atOffset: try offset(of: path))
    }

    /// The whole tree as a value (the root's name is empty).
    public var root: DeviceTreeNode { node(atOffset: 0) }

    /// The subtree at a structure-block offset, walked by offset (the blob was
    /// checked in full when it was opened, so the walk cannot leave it).
    func node(atOffset offset: Int32) -> DeviceTreeNode {
        blob.withUnsafeBytes { fdt in
            func walk(_ node: Int32) -> DeviceTreeNode {
                let base = fdt.baseAddress
                let name = fdt_get_name(base, node, nil).map { String(cString: $0) } ?? ""
                var out = DeviceTreeNode(node == 0 ? "" : name)
                var prop = fdt_first_property_offset(base, node)
                while prop >= 0 {
                    var len: Int32 = 0
                    var namePtr: UnsafePointer<CChar>? = nil
                    if let p = fdt_getprop_by_offset(base, prop, &namePtr, &len), let namePtr, len >= 0 {
                        out.properties.append(
                            DeviceTreeProperty(
                                String(cString: namePtr), Array(UnsafeRawBufferPointer(start: p, count: Int(len)))))
                    }
                    prop = fdt_next_property_offset(base, prop)
                }
                var child = fdt_first_subnode(base, node)
                while child >= 0 {
                    out.children.append(walk(child))
                    child = fdt_next_subnode(base, child)
                }
                return out
            }
            return walk(offset)
        }
    }
}
