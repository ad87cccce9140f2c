@_spi(Benchmarking) import SWIOTLB

extension SWIOTLBBenchRunner {
    /// Deterministic SplitMix64, so every run draws the same sizes.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let smallestMixedSize = 512
    static let largestMixedSize = 64 << 10

    /// A pool kept at a steady occupancy: each step releases one random live mapping and
    /// reserves a new one of a random size (no copies), so only the allocator is timed.
    final class ChurnState {
        let pool: SWIOTLBPool
        var live: [(address: UInt64, size: Int)?]
        var sizes: [Int]
        var picks: [Int]
        var cursor = 0
        var failures = 0
        let original: UInt64

        init(pool: SWIOTLBPool, original: UInt64, seed: UInt64, targetOccupancy: Double, minimumLive: Int) {
            self.pool = pool
            self.original = original
            var rng = SplitMix64(state: seed)
            let span = UInt64(SWIOTLBBenchRunner.largestMixedSize - SWIOTLBBenchRunner.smallestMixedSize + 1)
            sizes = (0..<8192).map { _ in SWIOTLBBenchRunner.smallestMixedSize + Int(rng.next() % span) }
            picks = (0..<8192).map { _ in Int(truncatingIfNeeded: rng.next() >> 1) }
            live = []
            let goal = Int(Double(pool.slotCount) * targetOccupancy)
            var i = 0
            while live.count < minimumLive || pool.statistics.usedSlots < goal {
                let size = sizes[i % sizes.count]
                i += 1
                guard let address = try? pool.reserve(original: original, size: size) else { break }
                live.append((address, size))
                if i > 1 << 22 { break }
            }
        }

        /// One release + reserve.
        @inline(__always)
        func step() {
            let k = cursor & 8191
            cursor &+= 1
            let j = picks[k] % live.count
            if let old = live[j] { try? pool.release(old.address, size: old.size) }
            let size = sizes[k]
            if let address = try? pool.reserve(original: original, size: size) {
                live[j] = (address, size)
            } else {
                live[j] = nil
                failures += 1
            }
        }

        /// Nanoseconds per step over about `nanoseconds`.
        func timedRound(_ nanoseconds: UInt64) -> Double {
            let start = SWIOTLBBenchClock.now()
            var steps = 0
            var end = start
            repeat {
                for _ in 0..<64 { step() }
                steps += 64
                end = SWIOTLBBenchClock.now()
            } while end - start < nanoseconds
            return Double(end - start) / Double(steps)
        }
    }

    /// The allocator's cost per release + reserve on an empty pool and on one held at
    /// 90 %, mixed sizes of 512 bytes to 64 KiB, alternating rounds between the two.
    func allocationCost(_ allocator: SWIOTLBAllocatorKind) throws -> SWIOTLBAllocationCost {
        let original = sourceAddress(0)
        let emptyPool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: plan.poolSize), areas: 1, memory: memory, allocator: allocator)
        let fullPool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: plan.poolSize), areas: 1, memory: memory, allocator: allocator)
        let empty = ChurnState(pool: emptyPool, original: original, seed: 1, targetOccupancy: 0, minimumLive: 8)
        let full = ChurnState(pool: fullPool, original: original, seed: 2, targetOccupancy: 0.9, minimumLive: 8)
        _ = empty.timedRound(Self.phaseNanoseconds)
        _ = full.timedRound(Self.phaseNanoseconds)
        var emptyCosts: [Double] = []
        var fullCosts: [Double] = []
        var ratios: [Double] = []
        var occupancy: [Double] = []
        let rounds = max(3, Int(plan.seconds * 2 * 1e9 / Double(2 * Self.phaseNanoseconds)))
        for round in 0..<rounds {
            let e: Double
            let f: Double
            if round % 2 == 0 {
                e = empty.timedRound(Self.phaseNanoseconds)
                f = full.timedRound(Self.phaseNanoseconds)
            } else {
                f = full.timedRound(Self.phaseNanoseconds)
                e = empty.timedRound(Self.phaseNanoseconds)
            }
            emptyCosts.append(e)
            fullCosts.append(f)
            ratios.append(f / e)
            occupancy.append(Double(fullPool.statistics.usedSlots) / Double(fullPool.slotCount))
        }
        return SWIOTLBAllocationCost(
            allocator: allocator.rawValue, emptyNanoseconds: Self.median(emptyCosts),
            occupiedNanoseconds: Self.median(fullCosts), occupancy: Self.median(occupancy), ratio: Self.median(ratios),
            failures: full.failures,
            sizes: "uniform \(Self.smallestMixedSize)...\(Self.largestMixedSize) bytes")
    }
}
