import SWIOTLB

extension SWIOTLBBenchRunner {
    /// Deterministic SplitMix64, so every run draws the same sizes.
    package struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    package static let smallestMixedSize = 512
    package static let largestMixedSize = 64 << 10

    /// A pool kept at a steady occupancy: each step releases one random live mapping and
    /// reserves a new one of a random size (no copies), so only the allocator is timed.
    /// Failed reserves leave their place empty and are counted.
    package struct ChurnState {
        let pool: SWIOTLBPool
        var addresses: [UInt64] = []
        var sizes: [Int] = []
        let drawnSizes: [Int]
        let picks: [Int]
        var cursor = 0
        var failures = 0
        let original: UInt64

        init(pool: SWIOTLBPool, original: UInt64, seed: UInt64, targetOccupancy: Double, minimumLive: Int) {
            self.pool = pool
            self.original = original
            var rng = SplitMix64(state: seed)
            let span = UInt64(SWIOTLBBenchRunner.largestMixedSize - SWIOTLBBenchRunner.smallestMixedSize + 1)
            drawnSizes = (0..<8192).map { _ in SWIOTLBBenchRunner.smallestMixedSize + Int(rng.next() % span) }
            picks = (0..<8192).map { _ in Int(truncatingIfNeeded: rng.next() >> 1) }
            let goal = Int(Double(pool.slotCount) * targetOccupancy)
            var used = 0
            var i = 0
            while addresses.count < minimumLive || used < goal {
                let size = drawnSizes[i % drawnSizes.count]
                i += 1
                guard let address = pool.tryReserve(original: original, size: size) else { break }
                addresses.append(address)
                sizes.append(size)
                used += (size + SWIOTLB.slotSize - 1) / SWIOTLB.slotSize
                if i > 1 << 22 { break }
            }
        }

        /// CPU nanoseconds per release + reserve over about `nanoseconds` of wall time.
        mutating func timedRound(_ nanoseconds: UInt64) -> Double {
            let pool = self.pool
            let original = self.original
            let count = addresses.count
            var steps = 0
            var failed = 0
            var k = cursor
            let start = SWIOTLBBenchClock.now()
            let cpuStart = SWIOTLBBenchClock.threadCPUTime()
            var end = start
            addresses.withUnsafeMutableBufferPointer { addresses in
                sizes.withUnsafeMutableBufferPointer { sizes in
                    drawnSizes.withUnsafeBufferPointer { drawn in
                        picks.withUnsafeBufferPointer { picks in
                            repeat {
                                for _ in 0..<64 {
                                    let slot = k & 8191
                                    k &+= 1
                                    let j = picks[slot] % count
                                    if sizes[j] != 0 { try? pool.release(addresses[j], size: sizes[j]) }
                                    let size = drawn[slot]
                                    if let address = pool.tryReserve(original: original, size: size) {
                                        addresses[j] = address
                                        sizes[j] = size
                                    } else {
                                        sizes[j] = 0
                                        failed += 1
                                    }
                                }
                                steps += 64
                                end = SWIOTLBBenchClock.now()
                            } while end - start < nanoseconds
                        }
                    }
                }
            }
            let cpu = SWIOTLBBenchClock.threadCPUTime() - cpuStart
            cursor = k
            failures += failed
            return Double(cpu) / Double(steps)
        }
    }

    /// The allocator's cost per release + reserve on an empty pool and on one held at
    /// 90 %, mixed sizes of 512 bytes to 64 KiB, alternating rounds between the two.
    package func allocationCost(_ allocator: SWIOTLBAllocatorKind) throws -> SWIOTLBAllocationCost {
        let original = sourceAddress(0)
        let emptyPool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: plan.poolSize), areas: 1, memory: memory, allocator: allocator)
        let fullPool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: plan.poolSize), areas: 1, memory: memory, allocator: allocator)
        var empty = ChurnState(pool: emptyPool, original: original, seed: 1, targetOccupancy: 0, minimumLive: 8)
        var full = ChurnState(pool: fullPool, original: original, seed: 2, targetOccupancy: 0.9, minimumLive: 8)
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
