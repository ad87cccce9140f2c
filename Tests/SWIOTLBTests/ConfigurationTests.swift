import Synchronization
import Testing

@testable import SWIOTLB

/// `swiotlb=` round-ups and pool creation (reference/linux-guest-facts.md §2.2, §2.7).
@Suite("Configuration and creation")
struct ConfigurationTests {
    @Test("the default: 64 MiB, areas from the CPU count rounded up to a power of two")
    func defaults() throws {
        let c = try SWIOTLBConfiguration(possibleCPUs: 6)
        #expect(c.slots == 32768 && c.size == 64 << 20 && c.areas == 8)
        #expect(c.messages == ["area num 8."])
        #expect(!c.force && !c.disabled)
    }

    @Test("swiotlb=40000 becomes 40064 then 65536 slots (128 MiB)")
    func powerOfTwoRoundUp() throws {
        let c = try SWIOTLBConfiguration(slabs: 40000, possibleCPUs: 4)
        #expect(c.slots == 65536 && c.areas == 4)
        #expect(c.messages == ["area num 4.", "SWIOTLB bounce buffer size roundup to 128MB"])
    }

    @Test("slot counts: aligned to 128, raised to 128 per area, areas rounded and limited")
    func roundUps() throws {
        #expect(try SWIOTLBConfiguration(slabs: 100, possibleCPUs: 1).slots == 128)
        #expect(try SWIOTLBConfiguration(slabs: 100, possibleCPUs: 1).messages == ["area num 1."])
        // With an area count from the command line, the slot count is Linux's default_nslabs
        // after parsing (swiotlb_adjust_nareas() rounded it then), so init does not round
        // again: `swiotlb=,4 swiotlb=40000` keeps 40064 slots (audit 1.7, Linux oracle).
        #expect(try SWIOTLBConfiguration(slabs: 128, areas: 0).areas == 1)
        let small = try SWIOTLBConfiguration(slabs: 128, areas: 3)
        #expect(small.areas == 1 && small.slots == 128)  // limit_nareas(4, 128)
        #expect(small.messages == ["area num 4."])
        let late = try SWIOTLBConfiguration(slabs: 40064, areas: 4)
        #expect(late.slots == 40064 && late.areas == 4)
        #expect(throws: SWIOTLBError.self) { try SWIOTLBConfiguration(slabs: 0, areas: 4) }
        let cpus = try SWIOTLBConfiguration(possibleCPUs: 512)
        #expect(cpus.slots == 65536 && cpus.areas == 512)  // 512 CPUs force 128 MiB (§2.2)
        let exact = try SWIOTLBConfiguration(slabs: 32768, areas: 2, force: true)
        #expect(exact.slots == 32768 && exact.force && exact.messages == ["area num 2."])
        #expect(try SWIOTLBConfiguration(noforce: true).disabled)
        #expect(SWIOTLBConfiguration.limitAreas(8, slots: 512) == 4)
        #expect(SWIOTLBConfiguration.areaCount(5) == 8)
    }

    @Test("halving on allocation failure stops at 1 MiB")
    func halving() throws {
        var c: SWIOTLBConfiguration? = try SWIOTLBConfiguration(slabs: 4096, areas: 8)
        var sizes: [Int] = []
        while let current = c {
            sizes.append(current.slots)
            c = current.halved()
        }
        #expect(sizes == [4096, 2048, 1024, 512])
        let last = try #require(try SWIOTLBConfiguration(slabs: 4096, areas: 8).halved()?.halved()?.halved())
        #expect(last.areas == 4)
        #expect(last.messages.last == "SWIOTLB bounce buffer size adjusted 1024 -> 512 slabs")
    }

    @Test("absurd numbers are refused")
    func invalid() {
        #expect(throws: SWIOTLBError.self) { try SWIOTLBConfiguration(slabs: -1) }
        #expect(throws: SWIOTLBError.self) { try SWIOTLBConfiguration(slabs: 1 << 50) }
        #expect(throws: SWIOTLBError.self) { try SWIOTLBConfiguration(areas: -2) }
        #expect(throws: SWIOTLBError.self) { try SWIOTLBConfiguration(possibleCPUs: 0) }
    }

    struct ShareRefused: Error, CustomStringConvertible {
        var description: String { "H_PARAMETER" }
    }

    @Test("the share hook is called once with the page-aligned region; if it fails, there is no pool")
    func shareHook() throws {
        let memory = try HostBounceMemory(size: 4 << 20)
        let calls = Mutex<[BounceRegion]>([])
        let configuration = try SWIOTLBConfiguration(slabs: 1000, areas: 2)
        let pool = try SWIOTLBPool(configuration: configuration, base: 0x10000, memory: memory) { region in
            calls.withLock { $0.append(region) }
        }
        #expect(calls.withLock { $0 } == [BounceRegion(base: 0x10000, size: 1024 * 2048)])
        #expect(pool.slotCount == 1024 && pool.areaCount == 2)
        #expect(pool.messages == ["software IO TLB: mapped [mem 0x0000000000010000-0x0000000000210000] (2MB)"])  // exclusive end, as swiotlb_print_info

        #expect(throws: SWIOTLBError.shareFailed(BounceRegion(base: 0x10000, size: 1 << 20), reason: "H_PARAMETER")) {
            try SWIOTLBPool(region: BounceRegion(base: 0x10000, size: 1 << 20), memory: memory) { (_: BounceRegion) throws(ShareRefused) in
                throw ShareRefused()
            }
        }
        // With 64 KiB pages a 256 KiB pool is shared as whole pages of it; with a 1 MiB
        // page size the share covers the whole page.
        let big = Mutex<BounceRegion?>(nil)
        _ = try SWIOTLBPool(region: BounceRegion(base: 0, size: 256 << 10), memory: memory, pageSize: 1 << 20) { r in
            big.withLock { $0 = r }
        }
        #expect(big.withLock { $0 } == BounceRegion(base: 0, size: 1 << 20))
    }

    @Test("regions that cannot hold a pool are refused")
    func badRegions() throws {
        let memory = try HostBounceMemory(size: 1 << 20)
        #expect(throws: SWIOTLBError.self) { try SWIOTLBPool(region: BounceRegion(base: 0x800, size: 1 << 20), memory: memory) }
        #expect(throws: SWIOTLBError.self) { try SWIOTLBPool(region: BounceRegion(base: 0, size: 100_000), memory: memory) }
        #expect(throws: SWIOTLBError.self) { try SWIOTLBPool(region: BounceRegion(base: 0, size: 0), memory: memory) }
        #expect(throws: SWIOTLBError.self) {
            try SWIOTLBPool(region: BounceRegion(base: 0, size: 1 << 20), memory: memory, pageSize: 3000)
        }
        #expect(throws: SWIOTLBError.self) {
            try SWIOTLBPool(region: BounceRegion(base: UInt64.max & ~0xffff, size: 1 << 20), memory: memory)
        }
        // Three segments cannot be split into two or four equal areas of whole segments.
        let odd = try SWIOTLBPool(region: BounceRegion(base: 0, size: 3 * SWIOTLB.segmentSize), areas: 4, memory: memory)
        #expect(odd.areaCount == 1)
        #expect(odd.messages.first == "area num limited to 1 for 384 slots")
        #expect(odd.contains(0) && odd.contains(3 * 256 * 1024 - 1) && !odd.contains(3 * 256 * 1024))
    }

    @Test("host memory checks every range")
    func hostMemory() throws {
        let m = try HostBounceMemory(size: 4096)
        #expect(throws: BounceMemoryError.self) { try m.copy(from: 4000, to: 0, count: 100) }
        #expect(throws: BounceMemoryError.self) { try m.copy(from: 0, to: 4000, count: 100) }
        #expect(throws: BounceMemoryError.self) { try m.read(at: .max, count: 1) }
        #expect(throws: BounceMemoryError.self) { try m.write([1], at: 4096) }
        #expect(throws: BounceMemoryError.self) { try HostBounceMemory(size: 0) }
        try m.write([1, 2, 3], at: 4093)
        try m.copy(from: 4093, to: 0, count: 3)
        #expect(try m.read(at: 0, count: 3) == [1, 2, 3])
    }
}
