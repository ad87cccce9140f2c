import Histogram
import Locking
import SWIOTLB

/// What `--growth` measures: a dynamic pool that outgrows its 1 MiB default pool by
/// 1 MiB pools, shared in one call each, and returns them when idle.
package struct SWIOTLBGrowthCost: Codable, Sendable {
    /// Growth rounds (fill, grow once, drain, release).
    package var rounds: Int
    /// Pools added.
    package var growths: Int
    /// Share calls (ultracalls on a guest) per growth.
    package var shareCallsPerGrowth: Double
    /// Unshare calls per released pool.
    package var unshareCallsPerRelease: Double
    /// Median and 99th percentile nanoseconds of the map that triggered a growth.
    package var growthMapP50Nanoseconds: Double
    package var growthMapP99Nanoseconds: Double
    /// Median nanoseconds of the other 256 KiB maps in the same rounds.
    package var plainMapP50Nanoseconds: Double
    /// Bytes unshared and returned to the allocator per round.
    package var bytesReturnedPerRound: Int
}

extension SWIOTLBBenchRunner {
    /// Fills a 1 MiB default pool with 256 KiB TO_DEVICE mappings until a fifth grows
    /// it, times every map, unmaps all, releases the idle pool; repeated.
    package func growthCost() throws -> SWIOTLBGrowthCost {
        let base = try SWIOTLBPool(region: BounceRegion(base: 0, size: 1 << 20), memory: memory)
        let calls = Lock((share: 0, unshare: 0))
        let poolBytes = plan.poolSize
        let hooks = SWIOTLBGrowthHooks(
            allocate: { _, _ in UInt64(poolBytes / 2) },
            share: { _ in calls.withLock { $0.share += 1 } },
            unshare: { _ in calls.withLock { $0.unshare += 1 } },
            free: { _ in })
        let pool = SWIOTLBDynamicPool(
            defaultPool: base, policy: SWIOTLBGrowthPolicy(poolSize: 1 << 20, maxPools: 1), hooks: hooks)
        var growthMaps = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var plainMaps = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let original = sourceAddress(0)
        let rounds = max(50, Int(plan.seconds * 1000))
        var returned = 0
        for _ in 0..<rounds {
            var live: [UInt64] = []
            for _ in 0..<5 {
                let before = pool.growthStatistics.growths
                let t0 = SWIOTLBBenchClock.now()
                live.append(try pool.map(original: original, size: 256 << 10, direction: .toDevice))
                let t1 = SWIOTLBBenchClock.now()
                let ns = t1 &- t0 > timerOverhead ? t1 &- t0 &- timerOverhead : 0
                if pool.growthStatistics.growths > before { _ = growthMaps.record(ns) } else { _ = plainMaps.record(ns) }
            }
            for a in live { try pool.unmap(a, size: 256 << 10, direction: .toDevice) }
            returned += pool.releaseIdlePools()
        }
        let g = pool.growthStatistics
        let c = calls.withLock { $0 }
        return SWIOTLBGrowthCost(
            rounds: rounds, growths: g.growths, shareCallsPerGrowth: Double(c.share) / Double(max(g.growths, 1)),
            unshareCallsPerRelease: Double(c.unshare) / Double(max(g.growths, 1)),
            growthMapP50Nanoseconds: Double(growthMaps.valueAtPercentile(50)),
            growthMapP99Nanoseconds: Double(growthMaps.valueAtPercentile(99)),
            plainMapP50Nanoseconds: Double(plainMaps.valueAtPercentile(50)), bytesReturnedPerRound: returned / rounds)
    }
}
