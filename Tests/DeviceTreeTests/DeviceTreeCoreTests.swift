import Testing
@testable import DeviceTree

@Suite("DeviceTree core: build, read, edit")
struct DeviceTreeCoreTests {
    static func sample() throws -> DeviceTree {
        try DeviceTree(
            root: DeviceTreeNode("", properties: [.u32("#address-cells", 2), .u32("#size-cells", 2)], children: [
                DeviceTreeNode("chosen", properties: [.string("bootargs", "svm=on console=hvc0")]),
                DeviceTreeNode("memory@0", properties: [.string("device_type", "memory"), .cells("reg", [0, 0, 1, 0])]),
                DeviceTreeNode(
                    "cpus", properties: [.u32("#address-cells", 1), .u32("#size-cells", 0)],
                    children: (0..<3).map { DeviceTreeNode("cpu@\($0)", properties: [.u32("reg", UInt32($0))]) }),
            ]),
            reserveMap: [DeviceTreeRegion(address: 0x1000, size: 0x2000)], bootCPUIDPhys: 2)
    }

    @Test("Sequential build keeps order and reads back")
    func buildAndRead() throws {
        let t = try Self.sample()
        #expect(try t.subnodes(of: "/") == ["chosen", "memory@0", "cpus"])
        #expect(try t.subnodes(of: "/cpus") == ["cpu@0", "cpu@1", "cpu@2"])
        #expect(try t.string("bootargs", at: "/chosen") == "svm=on console=hvc0")
        #expect(try t.reg(at: "/memory@0") == [DeviceTreeRegion(address: 0, size: 1 << 32)])
        #expect(t.reserveMap == [DeviceTreeRegion(address: 0x1000, size: 0x2000)])
        #expect(t.bootCPUIDPhys == 2)
        #expect(t.version == 17)
        let again = try DeviceTree(bytes: t.bytes)
        #expect(again == t)
    }

    @Test("Missing nodes and properties are typed errors naming the input")
    func missing() throws {
        let t = try Self.sample()
        #expect(throws: FDTError(.notFound, "/nope")) { try t.property("x", at: "/nope") }
        #expect(throws: FDTError(.notFound, "/chosen property nope")) { try t.property("nope", at: "/chosen") }
        #expect(throws: FDTError.self) { try t.u32("bootargs", at: "/chosen") }
    }

    @Test("Edits grow the blob as needed")
    func edits() throws {
        var t = try Self.sample()
        try t.setString("bootargs", String(repeating: "x", count: 10000), at: "/chosen")
        try t.ensureNode("/a/b/c")
        try t.setU64("linux,initrd-start", 0x400_0000, at: "/chosen")
        try t.addReserveEntry(DeviceTreeRegion(address: 0x2FFF_0000, size: 0x10000))
        try t.pack()
        let r = try DeviceTree(bytes: t.bytes)
        #expect(try r.u64("linux,initrd-start", at: "/chosen") == 0x400_0000)
        #expect(r.hasNode("/a/b/c"))
        #expect(r.reserveMap.count == 2)
        try t.deleteNode("/a")
        #expect(!t.hasNode("/a/b"))
    }

    @Test("Malformed input gives typed errors", arguments: [
        ([UInt8](), FDTError.Code.truncated), ([UInt8](repeating: 0, count: 64), .badMagic),
    ])
    func malformed(bytes: [UInt8], code: FDTError.Code) {
        #expect { try DeviceTree(bytes: bytes) } throws: { ($0 as? FDTError)?.code == code }
    }

    @Test("Truncation at every length fails cleanly")
    func truncated() throws {
        let b = try Self.sample().bytes
        for n in stride(from: 0, to: b.count, by: 7) {
            #expect(throws: FDTError.self) { try DeviceTree(bytes: b.prefix(n)) }
        }
    }

    @Test("A blob at an odd offset is copied to aligned storage")
    func misaligned() throws {
        let b = try Self.sample().bytes
        let shifted = [0] + b
        let t = try DeviceTree(bytes: shifted.dropFirst())
        #expect(try t.string("bootargs", at: "/chosen") == "svm=on console=hvc0")
    }

    @Test("FDTError codes equal libfdt's FDT_ERR_* values")
    func errorCodes() {
        for code in FDTError.Code.allCases { #expect(FDTError.Code.libfdtValues[code] == code.rawValue) }
    }
}
