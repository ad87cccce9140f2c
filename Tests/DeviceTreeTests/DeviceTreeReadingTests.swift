import Testing

@testable import DeviceTree

@Suite("DeviceTree reading: header, parents, whole-tree values")
struct DeviceTreeReadingTests {
    @Test("Header fields agree with the blob's bytes")
    func header() throws {
        let tree = try DeviceTreeCoreTests.sample()
        let b = tree.bytes
        let h = tree.header
        #expect(h.magic == BigEndianCells.u32(b, at: 0))
        #expect(h.totalSize == b.count)
        #expect(h.structureBlockOffset == Int(BigEndianCells.u32(b, at: 8)))
        #expect(h.stringsBlockOffset == Int(BigEndianCells.u32(b, at: 12)))
        #expect(h.reserveMapOffset == Int(BigEndianCells.u32(b, at: 16)))
        #expect(h.version == 17)
        #expect(h.lastCompatibleVersion == 16)
        #expect(h.bootCPUIDPhys == 2)
        #expect(h.stringsBlockSize == tree.stringsBlockSize)
        #expect(h.structureBlockSize == tree.structureBlockSize)
    }

    @Test("Parents are checked against the tree")
    func parents() throws {
        let tree = try DeviceTreeCoreTests.sample()
        #expect(try tree.parentPath(of: "/cpus/cpu@1") == "/cpus")
        #expect(try tree.parentPath(of: "/chosen") == "/")
        #expect(throws: FDTError(.badPath, "the root node has no parent")) { try tree.parentPath(of: "/") }
        #expect { try tree.parentPath(of: "/cpus/cpu@9") } throws: { ($0 as? FDTError)?.code == .notFound }
    }

    @Test("node(at:) and root read subtrees in blob order, names from the blob")
    func subtrees() throws {
        let tree = try DeviceTreeCoreTests.sample()
        let root = tree.root
        #expect(root.name == "")
        #expect(root.children.map(\.name) == ["chosen", "memory@0", "cpus"])
        let cpus = try tree.node(at: "/cpus")
        #expect(cpus.name == "cpus")
        #expect(cpus.children.map(\.name) == ["cpu@0", "cpu@1", "cpu@2"])
        #expect(cpus.child("cpu@2")?.value(of: "reg") == [0, 0, 0, 2])
        #expect(try DeviceTree(root: root, reserveMap: tree.reserveMap, bootCPUIDPhys: 2) == tree)
    }

    @Test("Paths longer than 4 KiB resolve from a phandle")
    func longPaths() throws {
        let name = String(repeating: "n", count: 200)
        var node = DeviceTreeNode(name, properties: [.u32("phandle", 7)])
        for _ in 0..<30 { node = DeviceTreeNode(name, children: [node]) }
        let tree = try DeviceTree(bytes: try DeviceTree(root: DeviceTreeNode("", children: [node])).bytes)
        let path = try tree.path(ofPhandle: 7)
        #expect(path.count == 31 * 201)
        #expect(try tree.phandle(at: path) == 7)
    }
}
