import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import SWIOTLB
import Testing

@testable import SecureGuest
import PEFTestSupport

/// The NVMe driver of `--disk nvme` (``VirtualDiskKind/nvme``): its DMA parameters and
/// transfer size as `drivers/nvme/host/pci.c` sets them, and the realistic request on
/// which 6.1's slot search never returns.
@Suite("NVMe driver")
struct NVMeDriverTests {
    static func boot(_ linux: LinuxVersion, bootargs: String, cpus: Int = 1) throws -> (GuestTestMachine, GuestKernel) {
        let t = try GuestTestMachine(memory: 512 << 20, cpus: cpus, bootargs: bootargs, diskSectors: 8192)
        try t.makeSecure()
        var options = GuestKernelOptions()
        options.linux = linux
        let (kernel, _) = try t.boot(options)
        return (t, kernel)
    }

    /// `dma_set_min_align_mask(dev, NVME_CTRL_PAGE_SIZE - 1)` and `max_hw_sectors =
    /// min(NVME_MAX_KB_SZ << 1, dma_max_mapping_size() >> 9)`: with bouncing forced,
    /// `swiotlb_max_mapping_size()` is 256 KiB less 4 KiB (the mask rounded up to a slot),
    /// so 504 sectors; without a pool the controller's 256 KiB (MDTS) limits. virtio-blk
    /// keeps no mask and 256 KiB.
    @Test("NVMe sets min_align_mask 0xfff and max_hw_sectors 504 with a forced pool (256 KiB without); virtio-blk neither", arguments: [LinuxVersion.v6_1, .v6_12])
    func limits(linux: LinuxVersion) throws {
        let (_, forced) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0")
        let nvme = try forced.probeVirtualBlockDevice(kind: .nvme)
        #expect(nvme.dmaDevice.minAlignMask == 0xfff)
        #expect(nvme.maximumTransfer == 504 * 512)
        #expect(forced.dmaMaxMappingSize(device: nvme.dmaDevice) == 252 << 10)
        #expect(forced.log.contains("nvme 0x\(String(nvme.unitAddress, radix: 16)): queue at"))
        #expect(forced.log.contains("min_align_mask 0xfff, max_hw_sectors 504"))
        let virtio = try forced.probeVirtualBlockDevice()
        #expect(virtio.kind == .virtio && virtio.dmaDevice == DMADevice())
        #expect(virtio.maximumTransfer == VirtualBlockProtocol.maximumTransfer)
        #expect(forced.dmaMaxMappingSize() == 256 << 10)

        let (_, unforced) = try Self.boot(linux, bootargs: "svm=on console=hvc0")
        #expect(unforced.dmaMaxMappingSize(device: nvme.dmaDevice) == nil, "no pool: SIZE_MAX")
        #expect(try unforced.probeVirtualBlockDevice(kind: .nvme).maximumTransfer == VirtualBlockProtocol.maximumTransfer)
    }

    /// A direct read into a buffer 0xa00 into its page: every bounce slot keeps the low
    /// 12 bits (checked on a map through the driver's device), and the data come back.
    @Test("NVMe buffers at a 512-byte offset bounce with their low 12 bits kept and round-trip intact on 6.12")
    func offsetRoundTrip() throws {
        let (t, kernel) = try Self.boot(.v6_12, bootargs: "svm=on swiotlb=force console=hvc0")
        let disk = try kernel.probeVirtualBlockDevice(kind: .nvme)
        let count = 600 << 10
        let base = try kernel.allocateMemory(bytes: UInt64(count) + 4096, purpose: "nvme test buffer")
        let buffer = GuestPhysicalAddress(base.rawValue + 0xA00)
        let bounce = try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice, device: disk.dmaDevice)
        #expect(bounce & 0xFFF == 0xA00)
        try kernel.dmaUnmapSingle(bounce, size: 4096, direction: .toDevice)
        let data = pattern(count, seed: 23)
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 16, from: buffer, byteCount: count)
        #expect(t.disk?.contents(sector: 16, byteCount: count) == data)
        try t.boot.write(at: buffer, bytes: [UInt8](repeating: 0, count: count))
        try disk.read(sector: 16, into: buffer, byteCount: count)
        #expect(try t.boot.read(at: buffer, count: count) == data)
        #expect(kernel.swiotlbPool?.statistics.usedSlots == 0)
    }

    /// A 4 KiB write from an aligned buffer (it leaves the area's cursor at slot 2), then
    /// one 1013 KiB direct read into a buffer at page offset 0x800, on a 1 MiB pool (one
    /// area of 512 slots): 6.1's stride is 64 slots for maps of 64 KiB or more, so the
    /// four 252 KiB chunks take 126 slots each from odd slots 129, 257, 385 and 1, leaving
    /// eight free slots, none with three free after an odd one. The 5 KiB tail needs
    /// three from an odd slot: the scan starts at `wrap` 128, steps to the odd phase and
    /// walks it for ever (past the end it restarts at 0, not at `wrap`). 6.12's bounded
    /// search fails that map, the driver submits the four it has, and maps the tail
    /// after they complete.
    @Test("A 1013 KiB NVMe read at page offset 0x800 into a 1 MiB pool hangs 6.1's slot search; 6.12 completes it")
    func realisticHang() throws {
        let count = 4 * (252 << 10) + 5120
        for linux in [LinuxVersion.v6_1, .v6_12] {
            let (t, kernel) = try Self.boot(linux, bootargs: "svm=on swiotlb=512,force console=hvc0")
            let pool = try #require(kernel.swiotlbPool)
            #expect(pool.slotCount == 512 && pool.areaCount == 1)
            let disk = try kernel.probeVirtualBlockDevice(kind: .nvme)
            let base = try kernel.allocateMemory(bytes: UInt64(count) + 4096, purpose: "nvme test buffer")
            try disk.write(sector: 4096, from: base, byteCount: 4096)
            let buffer = GuestPhysicalAddress(base.rawValue + 0x800)
            do {
                try disk.read(sector: 0, into: buffer, byteCount: count)
                #expect(linux == .v6_12, "6.1 must hang")
                #expect(try t.boot.read(at: buffer, count: count) == [UInt8](repeating: 0, count: count))
                #expect(kernel.phase == .running && kernel.swiotlbHang == nil)
                #expect(disk.statistics.requeues == 1, "the tail's refused map was requeued (BLK_STS_RESOURCE)")
            } catch {
                #expect(disk.statistics.requeues == 0, "a hang is not a full pool: nothing was requeued")
                guard linux == .v6_1, case .dma(.swiotlb(.scanHung(let hang)))? = error as? BlockIOError else {
                    Issue.record("\(linux): \(error)")
                    continue
                }
                #expect(hang.size == 5120 && hang.minAlignMask == 0xfff && hang.stride == 2 && hang.usedSlots == 504)
                #expect(hang.original == buffer.rawValue + UInt64(4 * (252 << 10)))
                #expect(kernel.swiotlbHang == hang)
                guard case .hung = kernel.phase else {
                    Issue.record("6.1: phase \(kernel.phase)")
                    continue
                }
            }
        }
    }

    /// The same two transfers with the read at a 4 KiB-aligned buffer: every map wants
    /// the even phase, which `wrap` is on, so 6.1 fails the tail's map cleanly and the
    /// read completes. The hang needs a buffer whose bit 11 differs from the pool's.
    @Test("The same read from a 4 KiB-aligned buffer completes on 6.1: only the odd slot phase hangs")
    func alignedDoesNotHang() throws {
        let count = 4 * (252 << 10) + 5120
        let (_, kernel) = try Self.boot(.v6_1, bootargs: "svm=on swiotlb=512,force console=hvc0")
        let disk = try kernel.probeVirtualBlockDevice(kind: .nvme)
        let buffer = try kernel.allocateMemory(bytes: UInt64(count), purpose: "nvme test buffer")
        try disk.write(sector: 4096, from: buffer, byteCount: 4096)
        try disk.read(sector: 0, into: buffer, byteCount: count)
        #expect(kernel.log.contains("swiotlb buffer is full"), "the tail's map failed cleanly first")
        #expect(kernel.phase == .running && kernel.swiotlbHang == nil)
    }

    /// `min_align_mask` is from v5.12: the 5.4 profile's NVMe device has none (no such field in
    /// 5.4.301; 5.10.265 carries the backport).
    @Test("5.4's NVMe device has no min_align_mask; 5.10, 6.1 and 6.12 have 0xfff")
    func maskBySeries() {
        #expect(VirtualDiskKind.nvme.dmaDevice(linux: .v5_4) == DMADevice())
        for linux in [LinuxVersion.v5_10, .v6_1, .v6_12] {
            #expect(VirtualDiskKind.nvme.dmaDevice(linux: linux).minAlignMask == 0xfff)
        }
        for linux in LinuxVersion.allCases { #expect(VirtualDiskKind.virtio.dmaDevice(linux: linux) == DMADevice()) }
    }
}
