import Testing

@testable import SWIOTLB

/// The counters Linux keeps in debugfs are pool-wide (`io_tlb_used`, `io_tlb_used_hiwater`).
@Suite("Statistics")
struct StatisticsTests {
    @Test("the high-water mark is the pool-wide peak at one instant, not the sum of the areas' peaks")
    func poolWideHighWater() throws {
        let f = try PoolFixture(slots: 512, areas: 4)
        let a = try f.pool.map(original: f.scratch, size: 256 << 10, direction: .toDevice, cpu: 3)
        let small = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice, cpu: 1)
        try f.pool.unmap(a, size: 256 << 10, direction: .toDevice)
        let b = try f.pool.map(original: f.scratch, size: 256 << 10, direction: .toDevice, cpu: 0)
        var s = f.pool.statistics
        #expect(s.areas.map(\.highWaterSlots) == [128, 2, 0, 128])
        #expect(s.sumOfAreaHighWaterSlots == 258)
        #expect(s.highWaterSlots == 130)
        #expect(s.usedSlots == 130)
        try f.pool.unmap(b, size: 256 << 10, direction: .toDevice)
        // debugfs: writing 0 to io_tlb_used_hiwater sets it to 0, whatever is in use.
        f.pool.resetHighWater()
        s = f.pool.statistics
        #expect(s.highWaterSlots == 0 && s.usedSlots == 2)
        #expect(s.areas.map(\.highWaterSlots) == [0, 2, 0, 0])
        try f.pool.unmap(small, size: 4096, direction: .toDevice)
        #expect(f.pool.statistics.usedSlots == 0)
    }
}
