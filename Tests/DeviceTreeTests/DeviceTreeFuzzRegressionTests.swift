import Testing

@testable import DeviceTree

/// Inputs the `devicetree` fuzz target (Fuzz/, Scripts/fuzz) found, each reduced to
/// the smallest tree that shows the problem. Each test failed before its fix.
@Suite("DeviceTree fuzz regressions")
struct DeviceTreeFuzzRegressionTests {
    /// Two siblings called `x` with different children: a blob can hold them (dtc
    /// refuses them in source; `dtc -f` writes them), and `fdt_path_offset("/x")`
    /// finds only the first. `allNodePaths()` used to walk by path, so it listed the
    /// first `x`'s children twice and never the second's.
    @Test("allNodePaths() lists every node of siblings with the same name")
    func duplicateSiblingNames() throws {
        let tree = try DeviceTree(root: DeviceTreeNode("", children: [
            DeviceTreeNode("x", properties: [.u32("p", 1)], children: [DeviceTreeNode("child")]),
            DeviceTreeNode("x", properties: [.u32("p", 3)], children: [DeviceTreeNode("other")]),
        ]))
        let reopened = try DeviceTree(bytes: tree.bytes)
        #expect(reopened.allNodePaths() == ["/", "/x", "/x/child", "/x", "/x/other"])
    }

    /// A reserve-map entry of size 0 is where every reader stops (`fdt_num_mem_rsv`),
    /// so adding one used to succeed and then vanish from `reserveMap`, and building
    /// with one hid every entry after it. Both now throw `.badValue`.
    @Test("Zero-size reserve-map entries are refused, not silently lost")
    func zeroSizeReserveEntry() throws {
        var tree = try DeviceTree(root: DeviceTreeNode(""), reserveMap: [DeviceTreeRegion(address: 0x1000, size: 0x1000)])
        #expect(throws: FDTError(.badValue, "reserve map entry 0x20c3bdf8 + 0x0 has size 0, which would end the map")) {
            try tree.addReserveEntry(DeviceTreeRegion(address: 0x20C3_BDF8, size: 0))
        }
        #expect(tree.reserveMap == [DeviceTreeRegion(address: 0x1000, size: 0x1000)])
        let hidden = [DeviceTreeRegion(address: 0x1000, size: 0), DeviceTreeRegion(address: 0x2000, size: 0x1000)]
        #expect(throws: FDTError.self) { try DeviceTree(root: DeviceTreeNode(""), reserveMap: hidden) }
    }

    /// A node name holding a `/` (dtc refuses it; `fdt_check_full` accepts it).
    /// Paths of later nodes came from libfdt's `fdt_get_path`, which pops a
    /// component by scanning back to a `/`, so the compatible search, the phandle
    /// lookup and `parentPath(of:)` named `/uv` as `/vty@/uv`.
    @Test("Paths from offsets agree with allNodePaths() after a name holding '/'")
    func slashInNodeName() throws {
        let tree = try DeviceTree(bytes: try DeviceTree(root: DeviceTreeNode("", children: [
            DeviceTreeNode("vty@/1", properties: [.string("compatible", "hvterm1")]),
            DeviceTreeNode("uv", properties: [.string("compatible", "ibm,ultravisor"), .u32("phandle", 7)],
                children: [DeviceTreeNode("leaf")]),
        ])).bytes)
        #expect(tree.allNodePaths() == ["/", "/vty@/1", "/uv", "/uv/leaf"])
        #expect(tree.nodes(compatibleWith: "ibm,ultravisor") == ["/uv"])
        #expect(try tree.path(ofPhandle: 7) == "/uv")
        #expect(try tree.parentPath(of: "/uv/leaf") == "/uv")
    }

    /// A reserve map whose entries run on into the structure block: the header's
    /// offsets pass `fdt_check_full`, but `fdt_pack` moved the blocks by the real
    /// entry count and wrote past the end of the buffer (AddressSanitizer:
    /// heap-buffer-overflow in `fdt_pack`). Opening such a blob now throws
    /// `.badLayout`.
    @Test("A reserve map overlapping the structure block is refused")
    func reserveMapOverlapsStructure() throws {
        // The reserve map holds one entry and the terminator (32 bytes), and the
        // structure block follows it. The root's property of 12 zero bytes gives a
        // zero size 32 bytes into the structure block, which ends the map there once
        // the terminator's size is not 0.
        let good = try DeviceTree(
            root: DeviceTreeNode("", properties: [DeviceTreeProperty("a", [UInt8](repeating: 0, count: 12))]),
            reserveMap: [DeviceTreeRegion(address: 0x1000, size: 0x1000)]
        ).bytes
        let map = Int(BigEndianCells.u32(good, at: 16))  // off_mem_rsvmap
        try #require(Int(BigEndianCells.u32(good, at: 8)) == map + 32)  // off_dt_struct
        var bad = good
        bad[map + 31] = 1  // the terminator's size: now 1, so the map reads on into the structure block
        do {
            var tree = try DeviceTree(bytes: bad)
            Issue.record("opened a blob whose reserve map overlaps the structure block: \(tree.reserveMap)")
            try? tree.pack()
        } catch {
            #expect(error.code == .badLayout)
            #expect(error.context.contains("overlaps the structure block"))
        }
    }

    /// `/` followed by a combining mark (U+05BD) is one Swift `Character`, so the
    /// path helpers, which split by `Character`, did not see that `/`: `ensureNode`
    /// added one node named `a/\u{5BD}b` under the root (libfdt does not check
    /// names) and then could not find `/a/\u{5BD}b`.
    @Test("Paths split at every '/' scalar, even one a combining mark follows")
    func slashBeforeCombiningMark() throws {
        let path = "/a/\u{5BD}b"
        #expect(DeviceTree.parent(of: path) == "/a")
        var tree = DeviceTree()
        #expect(try tree.ensureNode(path) == path)
        #expect(tree.hasNode(path))
        #expect(tree.allNodePaths() == ["/", "/a", path])
        #expect(throws: FDTError.self) { try tree.addNode("x/\u{5BD}y", under: "/") }
        #expect(throws: FDTError.self) { try tree.addNode("x\0y", under: "/") }
    }

    /// Property names that together outgrow the builder's first 4 KiB buffer:
    /// libfdt 1.6.1's sequential writer then computed the room left with unsigned
    /// wrap-around and copied the second name in front of the buffer
    /// (AddressSanitizer: a heap overflow in `fdt_property`), leaving a name offset
    /// outside the strings block. The builder now sizes its buffer for the worst case.
    @Test("Long property names build and read back")
    func longPropertyNames() throws {
        let first = String(repeating: "a", count: 3000), second = String(repeating: "b", count: 1500)
        let tree = try DeviceTree(root: DeviceTreeNode("", properties: [
            DeviceTreeProperty(first, [1]), DeviceTreeProperty(second, [2]),
        ]))
        let reopened = try DeviceTree(bytes: tree.bytes)
        #expect(reopened.root.properties.map(\.name) == [first, second])
        #expect(try reopened.property(second, at: "/") == [2])
    }
}
