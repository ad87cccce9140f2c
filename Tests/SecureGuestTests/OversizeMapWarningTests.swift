import PowerABI
import SWIOTLB
import Testing

@testable import SecureGuest
import PEFTestSupport

/// A streaming map too large for any bounce slot run: Linux fails it with its rate-limited
/// "swiotlb buffer is full" line (6.12: `swiotlb_find_slots()` returns -1 for an
/// allocation over one segment, and its search finds no room for one whose alignment fits
/// no segment; 6.1 and 5.x: the search finds no slot whose `list` reaches it;
/// `kernel/dma/swiotlb.c: swiotlb_tbl_map_single (5.4.301, 5.10.265, 6.1, 6.12)`). The
/// guest prints it too, while SVMKit's 6.12 pool keeps the typed `mappingTooLarge`.
@Suite("Oversize map: swiotlb buffer is full")
struct OversizeMapWarningTests {
    static func boot(_ linux: LinuxVersion) throws -> GuestKernel {
        let t = try GuestTestMachine(memory: 512 << 20, cpus: 1, bootargs: "svm=on swiotlb=force console=hvc0")
        try t.makeSecure()
        var options = GuestKernelOptions()
        options.linux = linux
        return try t.boot(options).0
    }

    /// The `sz` Linux prints: 6.12's `size` (mapping plus min-align offset), 6.1's and
    /// 5.x's `alloc_size` (the mapping size), the same for these offsets.
    static func line(_ kernel: GuestKernel, size: Int) throws -> String {
        let pool = try #require(kernel.swiotlbPool)
        return "swiotlb buffer is full (sz: \(size) bytes), total \(pool.slotCount) (slots), used 0 (slots)"
    }

    @Test("A 258 KiB map: 6.12 refuses it as mappingTooLarge, 6.1 and 5.x as exhausted; all print Linux's line", arguments: LinuxVersion.allCases)
    func overOneSegment(linux: LinuxVersion) throws {
        let kernel = try Self.boot(linux)
        let buffer = try kernel.allocateMemory(bytes: 1 << 20, purpose: "oversize map")
        let size = (256 << 10) + 2048
        let error = try #require(throws: DMAError.self) {
            try kernel.dmaMapSingle(buffer, size: size, direction: .toDevice)
        }
        switch (linux, error) {
        case (.v6_12, .swiotlb(.mappingTooLarge(size, _, 256 << 10))), (.v6_1, .swiotlb(.exhausted)),
            (.v5_10, .swiotlb(.exhausted)), (.v5_4, .swiotlb(.exhausted)):
            break
        default: Issue.record("\(linux): \(error)")
        }
        #expect(kernel.log.contains(try Self.line(kernel, size: size)), "\(kernel.log.text)")
    }

    /// NVMe's `min_align_mask` 0xfff: at page offset 0xa00 a 256 KiB map needs 256 KiB +
    /// 0x200 (over a segment; 6.12 prints that `size`); at 0x800 it needs a run of 128 slots
    /// from an odd slot, which no segment has (6.12's search fails; `size` 256 KiB).
    @Test("6.12, NVMe's min_align_mask: both kinds of mappingTooLarge print Linux's line with 6.12's size", arguments: [(0xA00, 262_656), (0x800, 262_144)])
    func minAlignMask(pageOffset: Int, printed: Int) throws {
        let kernel = try Self.boot(.v6_12)
        let base = try kernel.allocateMemory(bytes: 1 << 20, purpose: "oversize map")
        let buffer = GuestPhysicalAddress(base.rawValue + UInt64(pageOffset))
        let device = DMADevice(minAlignMask: 0xFFF)
        let error = try #require(throws: DMAError.self) {
            try kernel.dmaMapSingle(buffer, size: 256 << 10, direction: .fromDevice, device: device)
        }
        guard case .swiotlb(.mappingTooLarge) = error else {
            Issue.record("not mappingTooLarge: \(error)")
            return
        }
        #expect(kernel.log.contains(try Self.line(kernel, size: printed)), "\(kernel.log.text)")
    }

    @Test("DMA_ATTR_NO_WARN: no line; without it the line is rate-limited (ten per five seconds)")
    func noWarnAndRatelimit() throws {
        let kernel = try Self.boot(.v6_12)
        let buffer = try kernel.allocateMemory(bytes: 1 << 20, purpose: "oversize map")
        let size = 512 << 10
        _ = try? kernel.dmaMapSingle(buffer, size: size, direction: .toDevice, attributes: .noWarn)
        #expect(!kernel.log.contains("swiotlb buffer is full"))
        for _ in 0..<12 { _ = try? kernel.dmaMapSingle(buffer, size: size, direction: .toDevice) }
        #expect(kernel.log.lines.filter { $0.message.contains("swiotlb buffer is full") }.count == KernelRatelimit.burst)
    }
}
