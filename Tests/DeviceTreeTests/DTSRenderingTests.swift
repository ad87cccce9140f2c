import Testing

@testable import DeviceTree

@Suite("DTS rendering matches dtc -I dtb -O dts")
struct DTSRenderingTests {
    @Test("QEMU fixtures render exactly as the committed dtc output", arguments: Fixtures.dumps)
    func fixtures(dump: Fixtures.Dump) throws {
        let tree = try Fixtures.tree(dump.name)
        let ours = tree.renderDTS()
        let theirs = try Fixtures.dts(dump.name)
        if ours != theirs {
            let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
            let b = theirs.split(separator: "\n", omittingEmptySubsequences: false)
            let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
            Issue.record("first difference at line \(first + 1): ours \(a.count > first ? String(a[first]) : "<end>") | dtc \(b.count > first ? String(b[first]) : "<end>")")
        }
        #expect(ours == theirs)
    }

    @Test("Edge-case values render as dtc renders them")
    func edgeCases() async throws {
        let props: [DeviceTreeProperty] = [
            .empty("flag"),
            .string("s", "tab\there \"q\" back\\slash"),
            .strings("list", ["a", "", "b"]),
            .strings("list2", ["hcall-pft", "hcall-term"]),
            DeviceTreeProperty("nul1", [0]),
            DeviceTreeProperty("nul4", [0, 0, 0, 0]),
            DeviceTreeProperty("bytes3", [0x52, 0x54, 0x01]),
            DeviceTreeProperty("unterminated", Array("abcd".utf8)),
            DeviceTreeProperty("high", [0x80, 0x41, 0x42, 0x00]),
            DeviceTreeProperty("mostlynul", [0x41, 0, 0, 0, 0, 0]),
            DeviceTreeProperty("halfnul", [0x41, 0]),
            DeviceTreeProperty("bell", [0x07, 0x41, 0x00]),
            .cells("c", [0, 1, 0x10, 0xFFFF_FFFF]),
            .u64("wide", 0x1_0000_0000),
        ]
        let tree = try DeviceTree(
            root: DeviceTreeNode("", properties: props, children: [DeviceTreeNode("child", properties: props)]),
            reserveMap: [DeviceTreeRegion(address: 0x1234, size: 0x10), DeviceTreeRegion(address: 1 << 40, size: 1)])
        let dtc = try await DTC.decompile(tree.bytes)
        #expect(dtc.status == 0)
        #expect(dtc.stderr == "")
        #expect(tree.renderDTS() == dtc.stdout)
    }

    @Test("Every form is chosen as documented")
    func forms() {
        #expect(DeviceTreeProperty.empty("x").dtsForm == .empty)
        #expect(DeviceTreeProperty.string("x", "okay").dtsForm == .string)
        #expect(DeviceTreeProperty.u32("x", 0x201F).dtsForm == .cells)
        #expect(DeviceTreeProperty.u32("x", 0x201F).dtsValue == "<0x201f>")
        #expect(DeviceTreeProperty.u32("x", 0).dtsValue == "<0x00>")
        #expect(DeviceTreeProperty("x", [0, 0]).dtsLine == "x = [00 00];")
        #expect(DeviceTreeProperty.strings("x", ["a", "b"]).dtsLine == #"x = "a\0b";"#)
        #expect(DeviceTreeProperty.empty("64-bit").dtsLine == "64-bit;")
    }

    @Test("A subtree renders in the same layout at any level")
    func nodeRendering() throws {
        let tree = try Fixtures.tree("qemu-pseries-1cpu-1G")
        let vty = try tree.node(at: "/vdevice/vty@71000000")
        #expect(vty.renderDTS(level: 2) == """
            \t\tvty@71000000 {
            \t\t\tinterrupts = <0x1100 0x00>;
            \t\t\tcompatible = "hvterm1";
            \t\t\tdevice_type = "serial";
            \t\t\treg = <0x71000000>;
            \t\t};

            """)
    }
}
