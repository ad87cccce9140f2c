import Testing

@testable import DeviceTree

/// Every tree `DeviceTree` builds or edits must be one dtc accepts silently, and
/// its rendering must equal dtc's.
@Suite("dtc accepts every built or edited tree")
struct DTCAcceptanceTests {
    static func judge(_ tree: DeviceTree, _ comment: Comment) async throws {
        let dtc = try await DTC.decompile(tree.bytes)
        #expect(dtc.status == 0, comment)
        #expect(dtc.stderr == "", comment)
        #expect(tree.renderDTS() == dtc.stdout, comment)
    }

    @Test("Built from scratch, empty, and rebuilt from a QEMU dump")
    func built() async throws {
        try await Self.judge(DeviceTree(), "empty tree")
        try await Self.judge(try DeviceTreeCoreTests.sample(), "core sample")
        for dump in Fixtures.dumps {
            let qemu = try Fixtures.tree(dump.name)
            let rebuilt = try DeviceTree(root: qemu.root, reserveMap: qemu.reserveMap, bootCPUIDPhys: qemu.bootCPUIDPhys)
            #expect(rebuilt.renderDTS() == qemu.renderDTS())
            // QEMU's own tree draws two dtc warnings (interrupt providers without
            // #address-cells); the rebuilt one must draw the same and nothing else.
            let dtc = try await DTC.decompile(rebuilt.bytes)
            #expect(dtc.status == 0)
            #expect(dtc.stdout == (try Fixtures.dts(dump.name)))
        }
    }

    @Test("After each kind of edit")
    func edited() async throws {
        var t = try DeviceTreeCoreTests.sample()
        try await Self.judge(t, "start")
        try t.setString("bootargs", "svm=on " + String(repeating: "quiet ", count: 2000), at: "/chosen")
        try await Self.judge(t, "long bootargs")
        try t.setU64("linux,initrd-start", 0x400_0000, at: "/chosen")
        try t.setU32("linux,initrd-end", 0x410_0000, at: "/chosen")
        try t.setProperty(.strings("compatible", ["ibm,esm", "x"]), at: "/")
        try await Self.judge(t, "properties")
        try t.ensureNode("/ibm,ultravisor/ibm,uv-firmware")
        try t.setString("compatible", "ibm,uv-firmware", at: "/ibm,ultravisor/ibm,uv-firmware")
        try await Self.judge(t, "ensureNode")
        for i in 0..<40 {
            let path = try t.addNode("n\(i)", under: "/ibm,ultravisor")
            try t.setProperty(.cells("values", Array(0..<UInt32(i))), at: path)
        }
        try await Self.judge(t, "many nodes")
        try t.deleteProperty("values", at: "/ibm,ultravisor/n3")
        try t.deleteNode("/ibm,ultravisor/n7")
        try await Self.judge(t, "deletions")
        try t.addReserveEntry(DeviceTreeRegion(address: 0x2FFF_0000, size: 0x10000))
        try t.addReserveEntry(DeviceTreeRegion(address: 0x2FFE_0000, size: 0x10000))
        try t.deleteReserveEntry(at: 0)
        #expect(t.reserveMap == [
            DeviceTreeRegion(address: 0x2FFF_0000, size: 0x10000), DeviceTreeRegion(address: 0x2FFE_0000, size: 0x10000),
        ])
        try await Self.judge(t, "reserve map")
        try t.grow(by: 65536)
        #expect(t.totalSize == t.bytes.count)
        try await Self.judge(t, "grown")
        try t.pack()
        try await Self.judge(t, "packed")
        let reopened = try DeviceTree(bytes: t.bytes)
        #expect(reopened == t)
    }

    @Test("Editing a QEMU dump")
    func editedQEMU() async throws {
        var t = try Fixtures.tree("qemu-pseries-kernel-2cpu-2G")
        try t.setString("bootargs", "console=hvc0 svm=on", at: "/chosen")
        try t.deleteNode("/pci@800000020000000")
        try t.setU32("#address-cells", 0, at: "/event-sources")
        try t.setU32("#address-cells", 0, at: "/interrupt-controller")
        try await Self.judge(t, "edited QEMU tree")
    }

    @Test("grow rejects negative and oversized requests")
    func growLimits() throws {
        var t = DeviceTree()
        #expect(throws: FDTError.self) { try t.grow(by: -1) }
        #expect(throws: FDTError.self) { try t.grow(by: Int(Int32.max)) }
    }
}
