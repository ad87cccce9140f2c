import Locking
import Testing

@testable import SWIOTLB

/// The fast allocator's per-area cache of freed runs: pops are the common map, and the
/// cache never hides room from a search or from a report.
@Suite("Run cache")
struct RunCacheTests {
    /// Which thread holds each slot (-1: none).
    final class Owners: Sendable {
        let slots: Lock<[Int]>
        init(slots: Int) { self.slots = Lock([Int](repeating: -1, count: slots)) }

        /// Checks the mapping `map` returned at `address` (no segment crossed, alignment
        /// and min-align bits kept) and claims its slots for thread `t` (a slot already
        /// claimed is an overlap); returns its first slot and slot count, or `nil` when
        /// the pool knows no mapping there. Problems are appended to `problems`.
        func claim(
            _ address: UInt64, original: UInt64, align: UInt64, minAlign: UInt64, in pool: SWIOTLBPool, thread t: Int,
            step: Int, problems: inout [String]
        ) -> (first: Int, count: Int)? {
            guard let mapping = pool.mapping(containing: address) else {
                problems.append("step \(step): no mapping at the address map returned")
                return nil
            }
            let first = Int((address - (address & 0x7ff)) >> 11) - mapping.padSlots
            let count = mapping.slots
            if first >> 7 != (first + count - 1) >> 7 { problems.append("step \(step): crosses a segment") }
            if align != 0 && (UInt64(first) << 11) & align != 0 { problems.append("step \(step): misaligned") }
            if minAlign != 0 && address & minAlign != original & minAlign {
                problems.append("step \(step): min_align bits lost")
            }
            let clash = slots.withLock { o -> Bool in
                var clash = false
                for s in first..<(first + count) {
                    if o[s] != -1 { clash = true }
                    o[s] = t
                }
                return clash
            }
            if clash { problems.append("step \(step): overlaps another live mapping") }
            return (first, count)
        }
    }

    /// A random request of the four-thread tests: size, `alloc_align_mask`,
    /// `min_align_mask` and an original in thread `t`'s megabyte of scratch.
    static func randomRequest(
        _ rng: inout TestRandom, scratch: UInt64, thread t: Int
    ) -> (size: Int, align: UInt64, minAlign: UInt64, original: UInt64) {
        let size = [512, 2048, 4096, 4096, 4096, 16384, 65536][Int(rng.next() % 7)]
        let align: UInt64 = [0, 0, 0xfff, 0x3fff][Int(rng.next() % 4)]
        let minAlign: UInt64 = rng.next() % 4 == 0 ? 0xfff : 0
        return (size, align, minAlign, scratch + UInt64(t << 20) + (rng.next() % 0x8000))
    }

    @Test("an unmapped run is reused by the next map of the same size, hot")
    func popReusesTheLastRun() throws {
        let f = try PoolFixture(slots: 512)
        let a = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)
        let b = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)
        try f.pool.unmap(a, size: 4096, direction: .toDevice)
        #expect(f.pool.table.cachedRuns(area: 0) == 1)
        #expect(f.pool.statistics.usedSlots == 2)
        let c = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)
        #expect(c == a)
        #expect(f.pool.table.cachedRuns(area: 0) == 0)
        for x in [b, c] { try f.pool.unmap(x, size: 4096, direction: .toDevice) }
        #expect(f.pool.table.invariantViolation() == nil)
    }

    @Test("cached runs count as free: largest free run, a segment-sized map, double-unmap detection")
    func cachedRunsAreFree() throws {
        let f = try PoolFixture(slots: 512)
        var live: [UInt64] = []
        for _ in 0..<256 { live.append(try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)) }
        #expect(throws: SWIOTLBError.self) { try f.pool.map(original: f.scratch, size: 100, direction: .toDevice) }
        // Free the first segment's 64 mappings: all of them go to the cache (capacity 64).
        for a in live.prefix(64) { try f.pool.unmap(a, size: 4096, direction: .toDevice) }
        #expect(f.pool.table.cachedRuns(area: 0) == 64)
        #expect(f.pool.table.segments[0].free == 0)
        // The report counts cached runs: one whole free segment.
        let stats = f.pool.statistics
        #expect(stats.largestFreeRun == 128 && stats.usedSlots == 384)
        // A double unmap of a cached run is still recognised.
        #expect(throws: SWIOTLBError.alreadyUnmapped(live[3], operation: .unmap)) {
            try f.pool.unmap(live[3], size: 4096, direction: .toDevice)
        }
        // A 256 KiB map finds no cached run of 128 slots: the cache spills and it fits.
        let whole = try f.pool.map(original: f.scratch, size: 256 << 10, direction: .toDevice)
        #expect(whole == 0)
        #expect(f.pool.table.cachedRuns(area: 0) == 0)
        #expect(f.pool.table.invariantViolation() == nil)
        // Exhausted again: the report's largest free run is the truth (0).
        do {
            _ = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)
            Issue.record("map succeeded in a full pool")
        } catch {
            guard case .exhausted(let d) = error else { throw error }
            #expect(d.largestFreeRun == 0 && d.usedSlots == 512)
        }
        // Cached runs of another size in a full area: reported, and found by a spill.
        for a in live[64..<70] { try f.pool.unmap(a, size: 4096, direction: .toDevice) }
        do {
            _ = try f.pool.map(original: f.scratch, size: 32 << 10, direction: .toDevice)
            Issue.record("a 16-slot map fitted in 12 scattered free slots")
        } catch {
            guard case .exhausted(let d) = error else { throw error }
            #expect(d.largestFreeRun == 12 && d.usedSlots == 500)
        }
        #expect(try f.pool.map(original: f.scratch, size: 24 << 10, direction: .toDevice) == 128 << 11)
        #expect(f.pool.table.invariantViolation() == nil)
    }

    @Test("a cached run is popped only if it meets the request's alignment")
    func alignmentIsChecked() throws {
        let f = try PoolFixture(slots: 512, pageSize: 4096)
        let a = try f.pool.map(original: f.scratch, size: 2048, direction: .toDevice)  // slot 0
        let b = try f.pool.map(original: f.scratch, size: 2048, direction: .toDevice)  // slot 1
        try f.pool.unmap(b, size: 2048, direction: .toDevice)  // slot 1 cached
        // One slot, aligned to 4 KiB: slot 1 is cached and one slot long, but odd.
        let c = try f.pool.map(original: f.scratch, size: 2048, direction: .toDevice, allocAlignMask: 0xfff)
        #expect(c == 2 << 11)
        #expect(f.pool.table.cachedRuns(area: 0) == 1)
        // With the NVMe min_align_mask the bounce address keeps the original's low bits.
        let d = try f.pool.map(
            original: f.scratch + 0x800, size: 2048, direction: .toDevice, device: DMADevice(minAlignMask: 0xfff))
        #expect(d & 0xfff == 0x800)
        for x in [a, c] { try f.pool.unmap(x, size: 2048, direction: .toDevice) }
        try f.pool.unmap(d, size: 2048, direction: .toDevice)
        #expect(f.pool.statistics.usedSlots == 0)
        #expect(f.pool.table.invariantViolation() == nil)
    }

    @Test("four threads, random sizes and alignments: no overlap, no segment crossing, alignment kept")
    func fourThreads() async throws {
        let f = try PoolFixture(slots: 2048, areas: 2, scratchBytes: 4 << 20)
        let pool = f.pool
        let scratch = f.scratch
        // Every live slot's owner; a slot claimed twice is an overlap.
        let owners = Owners(slots: 2048)
        let problems = await withTaskGroup(of: [String].self) { group in
            for t in 0..<4 {
                group.addTask {
                    var rng = TestRandom(seed: UInt64(t) &+ 101)
                    var live: [(address: UInt64, size: Int, first: Int, count: Int)] = []
                    var problems: [String] = []
                    for step in 0..<3000 {
                        if !live.isEmpty && (rng.next() % 3 == 0 || live.count > 24) {
                            let m = live.remove(at: Int(rng.next() % UInt64(live.count)))
                            owners.slots.withLock { o in for s in m.first..<(m.first + m.count) { o[s] = -1 } }
                            do { try pool.unmap(m.address, size: m.size, direction: .toDevice) } catch {
                                problems.append("unmap: \(error)")
                            }
                            continue
                        }
                        let (size, align, minAlign, original) = RunCacheTests.randomRequest(&rng, scratch: scratch, thread: t)
                        let address: UInt64
                        do {
                            address = try pool.map(
                                original: original, size: size, direction: .toDevice, allocAlignMask: align,
                                device: DMADevice(minAlignMask: minAlign), cpu: t)
                        } catch {
                            continue  // a full pool is allowed under this load
                        }
                        guard
                            let claimed = owners.claim(
                                address, original: original, align: align, minAlign: minAlign, in: pool, thread: t,
                                step: step, problems: &problems)
                        else { continue }
                        let (first, count) = claimed
                        live.append((address, size, first, count))
                    }
                    for m in live {
                        owners.slots.withLock { o in for s in m.first..<(m.first + m.count) { o[s] = -1 } }
                        do { try pool.unmap(m.address, size: m.size, direction: .toDevice) } catch {
                            problems.append("final unmap: \(error)")
                        }
                    }
                    return problems
                }
            }
            var all: [String] = []
            for await p in group { all += p }
            return all
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(pool.statistics.usedSlots == 0)
        #expect(pool.table.invariantViolation() == nil)
    }
}
