import DeviceTree
import ESM
import Testing
@testable import SVMKit

/// Issue 19: `BootImageBuilder` on hostile input: addresses near 2^64 are errors naming
/// the input (they trapped on overflow), and a blob that is meant to be there but cannot
/// be read is an error, never silently replaced.
@Suite("Boot image: hostile addresses and damaged blobs")
struct BootImageBuilderInputTests {
    static func configuration() -> BootConfiguration {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 1 << 30
        c.cpuCount = 1
        return c
    }

    static func error(_ c: BootConfiguration) -> BootError? {
        do {
            _ = try BootImageBuilder.build(c)
            return nil
        } catch { return error }
    }

    @Test("A kernel base near 2^64 is refused naming --kbase", arguments: [0xFFFF_FFFF_FFFF_0000, 0x4000_0000] as [UInt64])
    func kernelBaseOutsideMemory(kbase: UInt64) {
        var c = Self.configuration()
        c.kernelBase = kbase
        let e = Self.error(c)
        #expect(e?.input == "--kbase 0x\(String(kbase, radix: 16))", "\(String(describing: e))")
    }

    @Test("The same through /chosen/qemu,boot-kernel names the tree")
    func treeKernelBase() throws {
        var o = PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 1, bootargs: "svm=on console=hvc0")
        o.rtasBase = nil
        var tree = try PseriesTreeBuilder.tree(o)
        try tree.setProperty("qemu,boot-kernel", BigEndianCells.bytes(UInt64(0xFFFF_FFFF_FFFF_0000)) + BigEndianCells.bytes(UInt64(0x1000)), at: "/chosen")
        try tree.pack()
        var c = Self.configuration()
        c.deviceTree = tree.bytes
        #expect(Self.error(c)?.input == "--fdt /chosen/qemu,boot-kernel 0xffffffffffff0000")
    }

    @Test("A /memory@0 reg that runs past 2^64 is refused naming --fdt")
    func memoryOverflow() throws {
        var tree = try PseriesTreeBuilder.tree(PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 1, bootargs: "svm=on"))
        try tree.setProperty(
            "reg", BigEndianCells.bytes(UInt64(0)) + BigEndianCells.bytes(UInt64.max) + BigEndianCells.bytes(UInt64(0)) + BigEndianCells.bytes(UInt64(1 << 20)),
            at: "/memory@0")
        try tree.pack()
        var c = Self.configuration()
        c.deviceTree = tree.bytes
        let e = Self.error(c)
        #expect(e?.input == "--fdt", "\(String(describing: e))")
    }

    @Test("An initrd with an opt/ibm/pef archive whose blob is damaged is an error, not replaced")
    func damagedInitrdBlob() throws {
        let good = try BootImageBuilder.build(Self.configuration())
        var initrd = try #require(good.segment("initrd")).bytes
        let location = try ESMBlobLocator.locate(inInitrd: initrd)
        // Zero every FDT magic in the archive (the blob's, and its files FDT's, which the
        // Ultravisor's word scan would otherwise find instead).
        for i in stride(from: location.blobOffset, to: location.hashedRange.lowerBound - 3, by: 4)
        where initrd[i..<i + 4].elementsEqual([0xD0, 0x0D, 0xFE, 0xED]) {
            initrd[i] = 0
        }
        var c = Self.configuration()
        c.kernel = good.segment("kernel")?.bytes
        c.initrd = initrd
        let e = Self.error(c)
        #expect(e?.input == "--initrd" && e?.reason.contains("its ESM blob is damaged") == true, "\(String(describing: e))")
        // An initrd without the archive still gets a blob made for it.
        c.initrd = Array(repeating: 0x55, count: 4096)
        #expect(try BootImageBuilder.build(c).blobWasGenerated)
    }

    @Test("A --esm wrapper blob that is not an FDT is refused")
    func wrapperNotFDT() {
        var c = Self.configuration()
        c.wrapperBlob = Array(repeating: 0, count: 100)
        #expect(Self.error(c)?.input == "--esm")
    }
}
