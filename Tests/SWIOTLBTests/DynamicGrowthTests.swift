import Locking
import Testing

@testable import SWIOTLB

/// Dynamic growth with test doubles for the guest's page allocator and its share and
/// unshare calls; a ledger of shared pages must be empty when everything is released.
@Suite("Dynamic growth")
struct DynamicGrowthTests {
    /// The guest side: a bump allocator with a free list over a host range, and a
    /// page-granular shared-page ledger. `shareFailure` makes the next shares fail
    /// after sharing that many pages (a partial share); `unshareFails` refuses unshares.
    final class Guest: Sendable {
        struct State {
            var next: UInt64
            var freed: [BounceRegion] = []
            var allocated: Set<UInt64> = []
            var shared: Set<UInt64> = []
            var shareCalls = 0
            var unshareCalls = 0
            var shareFailure: Int?
            var unshareFails = false
            var allocationFails = false
            /// Frees of memory that still had shared pages: the bug the ledger exists to catch.
            var freedWhileShared = 0
        }
        struct Refused: Error {}
        let pageSize: Int
        let state: Lock<State>

        init(start: UInt64, pageSize: Int = SWIOTLB.defaultPageSize) {
            self.pageSize = pageSize
            state = Lock(State(next: start))
        }

        var hooks: SWIOTLBGrowthHooks {
            SWIOTLBGrowthHooks(
                allocate: { bytes, _ in
                    try self.state.withLock { (s: inout State) throws(Refused) -> UInt64 in
                        if s.allocationFails { throw Refused() }
                        if let i = s.freed.firstIndex(where: { $0.size == bytes }) {
                            let r = s.freed.remove(at: i)
                            s.allocated.insert(r.base)
                            return r.base
                        }
                        let base = s.next
                        s.next += UInt64(bytes)
                        s.allocated.insert(base)
                        return base
                    }
                },
                share: { region in
                    try self.state.withLock { (s: inout State) throws(Refused) in
                        s.shareCalls += 1
                        let pages = self.pages(region)
                        if let limit = s.shareFailure {
                            for p in pages.prefix(limit) { s.shared.insert(p) }
                            throw Refused()
                        }
                        for p in pages { s.shared.insert(p) }
                    }
                },
                unshare: { region in
                    try self.state.withLock { (s: inout State) throws(Refused) in
                        s.unshareCalls += 1
                        if s.unshareFails { throw Refused() }
                        for p in self.pages(region) { s.shared.remove(p) }
                    }
                },
                free: { region in
                    self.state.withLock { s in
                        if self.pages(region).contains(where: { s.shared.contains($0) }) { s.freedWhileShared += 1 }
                        s.allocated.remove(region.base)
                        s.freed.append(region)
                    }
                })
        }

        func pages(_ r: BounceRegion) -> [UInt64] {
            Array(stride(from: r.base / UInt64(pageSize), to: (r.end + UInt64(pageSize) - 1) / UInt64(pageSize), by: 1))
        }
    }

    static let poolBytes = 1 << 20  // 512 slots
    static let growBytes = 1 << 20

    func fixture(
        maxPools: Int = 4, allocator: SWIOTLBAllocatorKind = .fast
    ) throws -> (SWIOTLBDynamicPool, Guest, HostBounceMemory, UInt64) {
        let memory = try HostBounceMemory(size: 16 << 20)
        let pool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: Self.poolBytes), memory: memory, allocator: allocator)
        let guest = Guest(start: UInt64(Self.poolBytes))
        let dynamic = SWIOTLBDynamicPool(
            defaultPool: pool, policy: SWIOTLBGrowthPolicy(poolSize: Self.growBytes, maxPools: maxPools),
            hooks: guest.hooks)
        return (dynamic, guest, memory, UInt64(12 << 20))
    }

    @Test(
        "an exhausted pool grows by one pool shared in one call; idle pools are unshared and returned",
        arguments: SWIOTLBAllocatorKind.allCases)
    func growAndShrink(_ allocator: SWIOTLBAllocatorKind) throws {
        let (pool, guest, memory, scratch) = try fixture(allocator: allocator)
        #expect(pool.defaultPool.allocator == allocator)
        try memory.write((0..<4096).map { UInt8(truncatingIfNeeded: $0) }, at: scratch)
        var live: [UInt64] = []
        // Four 256 KiB mappings fill the default pool; the fifth grows it.
        for _ in 0..<4 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        #expect(pool.growthStatistics.growths == 0)
        let grown = try pool.map(original: scratch, size: 4096, direction: .toDevice)
        #expect(!pool.defaultPool.contains(grown))
        #expect(try memory.read(at: grown, count: 4096) == (0..<4096).map { UInt8(truncatingIfNeeded: $0) })
        var g = pool.growthStatistics
        #expect(g.growths == 1 && g.shareCalls == 1 && g.extraPools == 1 && g.bytesShared == Self.growBytes)
        #expect(guest.state.withLock { $0.shareCalls } == 1)
        #expect(guest.state.withLock { $0.shared.count } == Self.growBytes / SWIOTLB.defaultPageSize)
        // A busy pool is not released.
        #expect(pool.releaseIdlePools() == 0)
        try pool.unmap(grown, size: 4096, direction: .toDevice)
        #expect(pool.releaseIdlePools() == Self.growBytes)
        g = pool.growthStatistics
        #expect(g.unshareCalls == 1 && g.bytesReturned == Self.growBytes && g.extraPools == 0)
        #expect(guest.state.withLock { $0.shared.isEmpty && $0.allocated.isEmpty && $0.freedWhileShared == 0 })
        for a in live { try pool.unmap(a, size: 256 << 10, direction: .toDevice) }
        // Growing again reuses the returned memory.
        for _ in 0..<4 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        let again = try pool.map(original: scratch, size: 256 << 10, direction: .fromDevice)
        try pool.unmap(again, size: 256 << 10, direction: .fromDevice)
        #expect(pool.releaseIdlePools() == Self.growBytes)
        #expect(guest.state.withLock { $0.shared.isEmpty && $0.allocated.isEmpty && $0.freedWhileShared == 0 && $0.shareCalls == 2 })
    }

    @Test("a share that fails part-way is undone: nothing stays shared, the memory goes back, the map fails")
    func shareFailure() throws {
        let (pool, guest, _, scratch) = try fixture()
        var live: [UInt64] = []
        for _ in 0..<4 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        guest.state.withLock { $0.shareFailure = 3 }
        #expect(throws: SWIOTLBError.self) { try pool.map(original: scratch, size: 4096, direction: .toDevice) }
        var g = pool.growthStatistics
        #expect(g.growths == 0 && g.failedGrowths == 1 && g.shareCalls == 1 && g.unshareCalls == 1)
        #expect(guest.state.withLock { $0.shared.isEmpty && $0.allocated.isEmpty && $0.freedWhileShared == 0 && $0.freed.count == 1 })
        // The guest recovers: the next growth succeeds on the returned memory.
        guest.state.withLock { $0.shareFailure = nil }
        let address = try pool.map(original: scratch, size: 4096, direction: .toDevice)
        try pool.unmap(address, size: 4096, direction: .toDevice)
        for a in live { try pool.unmap(a, size: 256 << 10, direction: .toDevice) }
        #expect(pool.releaseIdlePools() == Self.growBytes)
        g = pool.growthStatistics
        #expect(g.growths == 1 && g.failedGrowths == 1)
        #expect(guest.state.withLock { $0.shared.isEmpty && $0.allocated.isEmpty && $0.freedWhileShared == 0 })
    }

    @Test("memory that cannot be made private again is quarantined, never freed")
    func quarantine() throws {
        let (pool, guest, _, scratch) = try fixture()
        var live: [UInt64] = []
        for _ in 0..<4 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        guest.state.withLock {
            $0.shareFailure = 2
            $0.unshareFails = true
        }
        #expect(throws: SWIOTLBError.self) { try pool.map(original: scratch, size: 4096, direction: .toDevice) }
        #expect(pool.growthStatistics.bytesQuarantined == Self.growBytes)
        #expect(guest.state.withLock { $0.freed.isEmpty && $0.allocated.count == 1 && $0.shared.count == 2 })
        // A grown pool whose unshare fails at release is also kept out of the allocator.
        guest.state.withLock {
            $0.shareFailure = nil
            $0.unshareFails = false
        }
        let address = try pool.map(original: scratch, size: 4096, direction: .toDevice)
        try pool.unmap(address, size: 4096, direction: .toDevice)
        guest.state.withLock { $0.unshareFails = true }
        #expect(pool.releaseIdlePools() == 0)
        #expect(pool.growthStatistics.bytesQuarantined == 2 * Self.growBytes)
        #expect(pool.growthStatistics.extraPools == 0)
        #expect(guest.state.withLock { $0.freed.isEmpty })
        for a in live { try pool.unmap(a, size: 256 << 10, direction: .toDevice) }
    }

    @Test("growth stops at the cap and when the allocator refuses, with Linux's line")
    func capAndAllocationFailure() throws {
        let memory = try HostBounceMemory(size: 16 << 20)
        let lines = Lock<[String]>([])
        let base = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: Self.poolBytes), memory: memory,
            warn: { line in lines.withLock { $0.append(line) } })
        let guest = Guest(start: UInt64(Self.poolBytes))
        let pool = SWIOTLBDynamicPool(
            defaultPool: base, policy: SWIOTLBGrowthPolicy(poolSize: Self.growBytes, maxPools: 1), hooks: guest.hooks)
        let scratch = UInt64(12 << 20)
        var live: [UInt64] = []
        for _ in 0..<8 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        #expect(lines.withLock { $0.isEmpty })
        #expect(throws: SWIOTLBError.self) { try pool.map(original: scratch, size: 256 << 10, direction: .toDevice) }
        #expect(lines.withLock { $0 } == ["swiotlb buffer is full (sz: 262144 bytes), total 512 (slots), used 512 (slots)"])
        #expect(pool.growthStatistics.failedGrowths == 1 && pool.growthStatistics.growths == 1)
        for a in live { try pool.unmap(a, size: 256 << 10, direction: .toDevice) }
        #expect(pool.releaseIdlePools() == Self.growBytes)
        guest.state.withLock { $0.allocationFails = true }
        for _ in 0..<4 { live.append(try pool.map(original: scratch, size: 256 << 10, direction: .toDevice)) }
        #expect(throws: SWIOTLBError.self) { try pool.map(original: scratch, size: 4096, direction: .toDevice) }
        #expect(pool.growthStatistics.failedGrowths == 2)
        #expect(guest.state.withLock { $0.shared.isEmpty })
    }

    @Test("four threads map through a growing pool; the ledger is empty afterwards")
    func concurrentGrowth() async throws {
        let (pool, guest, memory, scratch) = try fixture(maxPools: 8)
        let failures = await withTaskGroup(of: Int.self) { group in
            for t in 0..<4 {
                group.addTask {
                    var rng = TestRandom(seed: UInt64(t + 1))
                    var live: [(UInt64, Int)] = []
                    var bad = 0
                    for i in 0..<400 {
                        let size = [4096, 65536, 262_144][Int(rng.next() % 3)]
                        let original = scratch + UInt64(t << 18)
                        do {
                            let a = try pool.map(original: original, size: size, direction: .bidirectional, cpu: t)
                            live.append((a, size))
                        } catch {
                            bad += 1
                        }
                        if live.count > 6 || i % 7 == 0, !live.isEmpty {
                            let (a, s) = live.removeFirst()
                            do { try pool.unmap(a, size: s, direction: .bidirectional) } catch { bad += 1 }
                        }
                        if i % 50 == 0 { pool.releaseIdlePools() }
                    }
                    for (a, s) in live {
                        do { try pool.unmap(a, size: s, direction: .bidirectional) } catch { bad += 1 }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        _ = memory
        #expect(failures == 0)
        pool.releaseIdlePools()
        #expect(pool.growthStatistics.growths > 0)
        #expect(pool.growthStatistics.extraPools == 0)
        #expect(guest.state.withLock { $0.shared.isEmpty && $0.allocated.isEmpty && $0.freedWhileShared == 0 })
        #expect(pool.defaultPool.statistics.usedSlots == 0)
    }
}
