import PowerABI
import Testing
@testable import SecureGuest

@Suite("Memblock, the shared LPPACA region, the ledger and the kernel log")
struct GuestMemoryBookkeepingTests {
    @Test("Bottom-up and top-down allocation skip reserved ranges and honour limits")
    func memblock() throws {
        var m = Memblock(memorySize: 1 << 30)
        m.reserve(start: GuestPhysicalAddress(0), size: 0x80_0000, purpose: "kernel")
        let low = try m.allocate(
            size: 0x10000, limit: GuestPhysicalAddress(0)..<GuestPhysicalAddress(0x3000_0000), bottomUp: true,
            purpose: "lppaca")
        #expect(low == GuestPhysicalAddress(0x80_0000))
        let high = try m.allocate(size: 0x400_0000, purpose: "swiotlb")
        #expect(high == GuestPhysicalAddress((1 << 30) - 0x400_0000))
        #expect(throws: Memblock.AllocationError.self) { try m.allocate(size: 1 << 31, purpose: "huge") }
        #expect(throws: Memblock.AllocationError.self) { try m.allocate(size: 1, alignment: 3, purpose: "odd") }
        // A limit that starts above the memory is an error, not a trap (before: the
        // error's own limit range was built upper-below-lower).
        #expect(throws: Memblock.AllocationError.self) {
            try m.allocate(size: 0x1000, limit: GuestPhysicalAddress(1 << 31)..<GuestPhysicalAddress(1 << 32), purpose: "above")
        }
        // Reservations never overlap.
        let rs = m.reserved
        for (a, b) in zip(rs, rs.dropFirst()) { #expect(a.end <= b.start) }
    }

    @Test("Shared LPPACA region: exact fit at whole pages (the 2020 off-by-one)", arguments: [1, 63, 64, 65, 128, 4096])
    func lppaca(cpus: Int) throws {
        var r = SharedLPPACARegion(base: GuestPhysicalAddress(0x100_0000), cpuCount: cpus)
        #expect(r.totalSize == ((UInt64(cpus) * 0x400 + 0xFFFF) & ~0xFFFF))
        for i in 0..<cpus { #expect(try r.next() == GuestPhysicalAddress(0x100_0000 + UInt64(i) * 0x400)) }
        // Exactly full when cpus fill whole pages; one more always overflows.
        if cpus % 64 == 0 { #expect(r.used == r.totalSize) }
        var full = r
        for _ in 0..<((r.totalSize - r.used) / 0x400) { _ = try full.next() }
        #expect(throws: SharedLPPACARegion.OverflowError.self) { try full.next() }
    }

    @Test("Ledger audit reports leaks and losses with owners")
    func ledger() {
        var l = SharedPageLedger()
        l.recordShare(first: GuestFrameNumber(0x10), count: 2, owner: .lppaca, callSite: "alloc_shared_lppaca")
        l.recordShare(first: GuestFrameNumber(0x20), count: 1, owner: .dtl, callSite: "dtl_cache_ctor")
        #expect(l.countsByOwner == [.lppaca: 2, .dtl: 1])
        let clean = l.audit(againstExplicitlyShared: [GuestFrameNumber(0x10), GuestFrameNumber(0x11), GuestFrameNumber(0x20)])
        #expect(clean.isClean)
        let bad = l.audit(againstExplicitlyShared: [GuestFrameNumber(0x10), GuestFrameNumber(0x11), GuestFrameNumber(0x99)])
        #expect(bad.leaks == [GuestFrameNumber(0x99)])
        #expect(bad.losses.map(\.owner) == [.dtl])
        #expect(bad.description.contains("dtl_cache_ctor"))
        l.recordUnshare(first: GuestFrameNumber(0x10), count: 2)
        #expect(l.countsByOwner == [.dtl: 1])
    }

    @Test("Kernel log lines read like dmesg")
    func log() {
        var k = KernelLog()
        k.print("Switching to secure mode.", at: 0.000123)
        k.print("a\nb", at: 12.5)
        #expect(k.lines.map(\.description) == ["[    0.000123] Switching to secure mode.", "[   12.500000] a", "[   12.500000] b"])
        #expect(k.contains("secure mode"))
    }
}
