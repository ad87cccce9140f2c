import Foundation
import Histogram
import SWIOTLB
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one run of `svmkit bench swiotlb` measures.
package struct SWIOTLBBenchPlan: Sendable {
    /// One point per size, or one point for the mix.
    package var sizes: [Int]
    /// Draw sizes from this mix instead of `sizes`.
    package var mix: SWIOTLBBenchMix?
    /// Mappings kept outstanding (one point per depth).
    package var queueDepths: [Int] = [1]
    package var threads: [Int]
    package var areas: Int
    package var directions: [DMADirection]
    package var seconds: Double
    package var allocators: [SWIOTLBAllocatorKind]
    package var poolSize: Int
    package var progress: Bool
    package var allocationCost: Bool
    /// Also measure dynamic growth.
    package var growth = false

    /// A plan with every field given (`svmkit bench swiotlb` builds it from its options).
    package init(
        sizes: [Int], mix: SWIOTLBBenchMix?, queueDepths: [Int] = [1], threads: [Int], areas: Int,
        directions: [DMADirection], seconds: Double, allocators: [SWIOTLBAllocatorKind], poolSize: Int, progress: Bool,
        allocationCost: Bool, growth: Bool = false
    ) {
        self.sizes = sizes
        self.mix = mix
        self.queueDepths = queueDepths
        self.threads = threads
        self.areas = areas
        self.directions = directions
        self.seconds = seconds
        self.allocators = allocators
        self.poolSize = poolSize
        self.progress = progress
        self.allocationCost = allocationCost
        self.growth = growth
    }
}

/// Runs the plan: for each point, interleaved rounds of the memcpy baseline and of
/// map + unmap loops (same threads, same source buffers), then a latency phase that
/// times each mapping; then the allocator alone on an empty and a 90 %-full pool.
package final class SWIOTLBBenchRunner {
    /// Bytes of host memory per thread after the pool: the ring's original buffers, then
    /// the memcpy baseline's staging buffers half-way (room for the deepest ring of the
    /// largest size).
    package let threadStride: Int
    /// Length of one throughput phase.
    package static let phaseNanoseconds: UInt64 = 10_000_000

    package let plan: SWIOTLBBenchPlan
    package let memory: HostBounceMemory
    package let team: SWIOTLBBenchTeam
    package let timerOverhead: UInt64

    package init(plan: SWIOTLBBenchPlan) throws {
        self.plan = plan
        let maxThreads = plan.threads.max() ?? 1
        let largest = max(plan.sizes.max() ?? 0, plan.mix?.largest ?? 0, SWIOTLB.segmentSize / 4)
        let ring = 2 * (plan.queueDepths.max() ?? 1) * largest
        threadStride = max(1 << 20, (ring + (1 << 20) - 1) & ~((1 << 20) - 1))
        memory = try HostBounceMemory(size: plan.poolSize + maxThreads * threadStride)
        // Touch every page once so that page faults stay out of the measurements.
        try memory.fill(at: 0, count: memory.size, with: 0x5A)
        team = SWIOTLBBenchTeam(size: maxThreads)
        timerOverhead = SWIOTLBBenchClock.overhead()
    }

    deinit { team.stop() }

    package func sourceAddress(_ member: Int) -> UInt64 { UInt64(plan.poolSize + member * threadStride) }

    package func run() throws -> SWIOTLBBenchReport {
        var rows: [SWIOTLBBenchRow] = []
        var scaling: [SWIOTLBBenchScaling] = []
        var groups: [(SWIOTLBBenchPoint, DMADirection, SWIOTLBAllocatorKind)] = []
        let points: [SWIOTLBBenchPoint] = plan.queueDepths.flatMap { depth in
            if let mix = plan.mix { return [SWIOTLBBenchPoint(size: mix.meanSize, mix: mix, queueDepth: depth)] }
            return plan.sizes.map { SWIOTLBBenchPoint(size: $0, mix: nil, queueDepth: depth) }
        }
        for allocator in plan.allocators {
            for direction in plan.directions {
                for point in points { groups.append((point, direction, allocator)) }
            }
        }
        let threadCounts = Array(Set(plan.threads)).sorted()
        for (i, group) in groups.enumerated() {
            if plan.progress {
                SWIOTLBBenchClock.writeStderr(
                    "\r\u{1B}[K[\(i + 1)/\(groups.count)] \(group.0.label) QD \(group.0.queueDepth) "
                        + "\(SWIOTLBBenchFormat.direction(group.1)) \(group.2), threads \(threadCounts.map(String.init).joined(separator: ","))")
            }
            let measured = try measure(point: group.0, threadCounts: threadCounts, direction: group.1, allocator: group.2)
            rows += measured.rows
            scaling += measured.scaling
        }
        rows.sort {
            ($0.allocator, Self.directionOrder($0.direction), $0.threads, $0.queueDepth, $0.size)
                < ($1.allocator, Self.directionOrder($1.direction), $1.threads, $1.queueDepth, $1.size)
        }
        var costs: [SWIOTLBAllocationCost] = []
        if plan.allocationCost {
            for allocator in plan.allocators {
                if plan.progress {
                    SWIOTLBBenchClock.writeStderr("\r\u{1B}[K[allocation] \(allocator): empty vs 90 % full")
                }
                costs.append(try allocationCost(allocator))
            }
        }
        if plan.progress { SWIOTLBBenchClock.writeStderr("\r\u{1B}[K") }
        var report = SWIOTLBBenchReport(
            method: Self.method, poolSize: plan.poolSize, pageSize: SWIOTLB.defaultPageSize, seconds: plan.seconds,
            cpus: SWIOTLBBenchClock.processorCount, timerOverheadNanoseconds: Double(timerOverhead), results: rows,
            allocationCost: costs, scaling: scaling, fastOverReference: Self.comparisons(rows: rows, costs: costs),
            targets: Self.targets(rows: rows, costs: costs, scaling: scaling))
        if plan.growth { report.growth = try growthCost() }
        return report
    }

    package static func directionOrder(_ d: String) -> Int { ["to-device", "from-device", "bidirectional"].firstIndex(of: d) ?? 9 }

    package static let method =
        "For each size (or mix), queue depth, direction and allocator, every thread count is measured in the same "
        + "interleaved rounds; each round alternates 10 ms phases of the memcpy baseline and of the queue-depth "
        + "workload on the same threads, each thread count with its own fresh pool. The workload "
        + "(SWIOTLBQueueDepthWorkload): each thread keeps QD mappings outstanding in a ring (complete the oldest: the "
        + "device reads every TO_DEVICE slot (64-bit XOR fold) and writes every FROM_DEVICE slot (memset), "
        + "BIDIRECTIONAL both, then unmap; change one byte of the entry's original and map it again); the baseline "
        + "runs the same ring over QD staging buffers (in the pool's memory where the member's bounce slots are, when the ring fits its share) with libc memcpy behind a call the optimizer keeps: original -> "
        + "staging, the same device action, staging -> original for from-device and bidirectional. "
        + "Rates count each thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) and add up over threads, so time a thread "
        + "spends descheduled by other processes does not count; wallBytesPerSecond is the same over wall time. "
        + "bytesPerSecond and memcpyBytesPerSecond are medians over the rounds; ratio is the median of the per-round "
        + "ratios; scaling is the median over rounds of (N threads / 1 thread) in the same round. Latencies time "
        + "single ring steps (device action, unmap, map) in a separate phase, less the clock's own cost. Host pages "
        + "are touched before measuring."

    // MARK: One point

    package struct Outcome: Sendable {
        var ops = 0
        var start: UInt64 = 0
        var end: UInt64 = 0
        var cpuStart: UInt64 = 0
        var cpuEnd: UInt64 = 0
        var failures = 0
        /// Payload bytes of the operations (mapped bytes).
        var bytes = 0
    }

    /// A phase's totals: operations, and rates per second over CPU time (summed over
    /// threads) and over wall time.
    package struct PhaseTotals {
        var ops: Int
        var cpuRate: Double
        var wallRate: Double
        var failures: Int
        /// Payload bytes per second over CPU time (summed over threads) and over wall time.
        var cpuByteRate: Double
        var wallByteRate: Double
    }

    /// Runs `body(member, deadline)` on the first `threads` members for about
    /// `duration` nanoseconds; returns total ops, wall time and failures.
    package func phase(
        threads: Int, duration: UInt64, _ body: @escaping @Sendable (Int, UInt64) -> Outcome
    ) -> PhaseTotals {
        let outcomes = Mutex<[Outcome]>([])
        let deadline = SWIOTLBBenchClock.now() + duration
        team.run { member in
            guard member < threads else { return }
            let cpuStart = SWIOTLBBenchClock.threadCPUTime()
            var outcome = body(member, deadline)
            outcome.cpuStart = cpuStart
            outcome.cpuEnd = SWIOTLBBenchClock.threadCPUTime()
            outcomes.withLock { $0.append(outcome) }
        }
        let all = outcomes.withLock { $0 }
        let start = all.map(\.start).min() ?? 0
        let end = all.map(\.end).max() ?? 0
        let ops = all.reduce(0) { $0 + $1.ops }
        return PhaseTotals(
            ops: ops,
            cpuRate: all.reduce(0.0) { $0 + Double($1.ops) / Double(max($1.cpuEnd &- $1.cpuStart, 1)) * 1e9 },
            wallRate: Double(ops) / Double(max(end &- start, 1)) * 1e9, failures: all.reduce(0) { $0 + $1.failures },
            cpuByteRate: all.reduce(0.0) { $0 + Double($1.bytes) / Double(max($1.cpuEnd &- $1.cpuStart, 1)) * 1e9 },
            wallByteRate: Double(all.reduce(0) { $0 + $1.bytes }) / Double(max(end &- start, 1)) * 1e9)
    }

    /// The ring sizes of a point: one size repeated, or 4096 draws from the mix.
    package func sizeSequence(_ point: SWIOTLBBenchPoint) -> [Int] {
        guard let mix = point.mix else { return [point.size] }
        return mix.draws(4096, seed: 0x5157_494F_544C_4221)
    }

    /// The host memory of member `member`'s ring: its originals, and the baseline's
    /// stagings. When the ring (`span` bytes) fits in the member's share of the pool, the
    /// stagings are the start of that share, the memory the member's bounce slots come
    /// from (a fresh pool's first fit), so both sides copy between the same places: on
    /// this machine kind a copy between buffers 64 MiB apart (the pool's start and the
    /// originals after it) costs about 10 % more at QD 32 than one between buffers
    /// 2 MiB apart (measured in C as well), which is placement, not SWIOTLB. Otherwise
    /// half-way into the member's own block after the pool.
    package func ringRegion(_ member: Int, span: Int) -> (originals: UInt64, stagings: UInt64) {
        let base = sourceAddress(member)
        let share = plan.poolSize / max(plan.threads.max() ?? 1, 1)
        if span <= share { return (base, UInt64(member * share)) }
        return (base, base + UInt64(threadStride / 2))
    }

    package func measure(
        point: SWIOTLBBenchPoint, threadCounts: [Int], direction: DMADirection, allocator: SWIOTLBAllocatorKind
    ) throws -> (rows: [SWIOTLBBenchRow], scaling: [SWIOTLBBenchScaling]) {
        let memory = self.memory
        let pools = try threadCounts.map { _ in
            try SWIOTLBPool(
                region: BounceRegion(base: 0, size: plan.poolSize), areas: plan.areas, memory: memory,
                allocator: allocator)
        }
        let sequence = sizeSequence(point)
        let entryStride = sequence.max() ?? point.size
        let depth = point.queueDepth
        let members = plan.threads.max() ?? 1
        let regions = (0..<members).map { ringRegion($0, span: depth * entryStride) }

        /// Member `member`'s ring over `pool` (the baseline's with `nil`).
        @Sendable func workload(_ pool: SWIOTLBPool?, _ member: Int) -> SWIOTLBQueueDepthWorkload? {
            let region = regions[member]
            return try? SWIOTLBQueueDepthWorkload(
                pool: pool, memory: memory, originals: region.originals, stagings: region.stagings,
                entryStride: entryStride, queueDepth: depth, sizes: sequence, direction: direction, cpu: member)
        }

        @Sendable func loop(_ pool: SWIOTLBPool?, _ member: Int, deadline: UInt64, batch: Int) -> Outcome {
            guard let workload = workload(pool, member) else { return Outcome() }
            var outcome = Outcome()
            outcome.start = SWIOTLBBenchClock.now()
            repeat {
                workload.run(steps: batch)
                outcome.end = SWIOTLBBenchClock.now()
            } while outcome.end < deadline
            outcome.ops = workload.operations
            outcome.bytes = workload.bytes
            outcome.failures = workload.failures
            SWIOTLBBenchClock.blackHole(UInt8(truncatingIfNeeded: workload.fold))
            workload.drain()
            return outcome
        }

        // Warm-up, which also sizes the batches between clock reads (about 20 µs).
        let warm = UInt64(max(plan.seconds * 0.05, 0.005) * 1e9)
        var copyBatch: [Int] = []
        var poolBatch: [Int] = []
        var failures = Array(repeating: 0, count: threadCounts.count)
        func batch(_ p: PhaseTotals, _ threads: Int) -> Int {
            let perOp = Double(threads) * 1e9 / max(p.wallRate, 1)
            return min(4096, max(1, Int(20_000 / max(perOp, 1))))
        }
        for (k, threads) in threadCounts.enumerated() {
            let pool = pools[k]
            let warmCopy = phase(threads: threads, duration: warm) { loop(nil, $0, deadline: $1, batch: 1) }
            let warmPool = phase(threads: threads, duration: warm) { loop(pool, $0, deadline: $1, batch: 1) }
            copyBatch.append(batch(warmCopy, threads))
            poolBatch.append(batch(warmPool, threads))
            failures[k] += warmPool.failures
        }

        var copyRates = Array(repeating: [Double](), count: threadCounts.count)
        var poolRates = Array(repeating: [Double](), count: threadCounts.count)
        var poolOpRates = Array(repeating: [Double](), count: threadCounts.count)
        var poolWallRates = Array(repeating: [Double](), count: threadCounts.count)
        var ratios = Array(repeating: [Double](), count: threadCounts.count)
        let rounds = max(3, Int(plan.seconds * 0.8 * 1e9 / Double(2 * Self.phaseNanoseconds)))
        let copyBatches = copyBatch
        let poolBatches = poolBatch
        for round in 0..<rounds {
            let order = round % 2 == 0 ? Array(threadCounts.indices) : threadCounts.indices.reversed()
            for k in order {
                let threads = threadCounts[k]
                let pool = pools[k]
                var copyRate = 0.0
                var poolRate = 0.0
                for step in 0..<2 {
                    if (step == 0) == (round % 2 == 0) {
                        let p = phase(threads: threads, duration: Self.phaseNanoseconds) {
                            loop(nil, $0, deadline: $1, batch: copyBatches[k])
                        }
                        copyRate = p.cpuByteRate
                    } else {
                        let p = phase(threads: threads, duration: Self.phaseNanoseconds) {
                            loop(pool, $0, deadline: $1, batch: poolBatches[k])
                        }
                        poolRate = p.cpuByteRate
                        poolOpRates[k].append(p.cpuRate)
                        poolWallRates[k].append(p.wallByteRate)
                        failures[k] += p.failures
                    }
                }
                copyRates[k].append(copyRate)
                poolRates[k].append(poolRate)
                ratios[k].append(poolRate / max(copyRate, 1))
            }
        }

        // Latency: time each step (device action, unmap of the oldest, map of the next).
        var rows: [SWIOTLBBenchRow] = []
        let overhead = timerOverhead
        let latencyDuration = UInt64(max(plan.seconds * 0.2, 0.01) * 1e9)
        for (k, threads) in threadCounts.enumerated() {
            let pool = pools[k]
            let histograms = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three))
            let latency = phase(threads: threads, duration: latencyDuration) { member, deadline in
                var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                guard let workload = workload(pool, member) else { return Outcome() }
                var outcome = Outcome()
                outcome.start = SWIOTLBBenchClock.now()
                repeat {
                    let t0 = SWIOTLBBenchClock.now()
                    workload.run(steps: 1)
                    let t1 = SWIOTLBBenchClock.now()
                    _ = histogram.record(t1 &- t0 > overhead ? t1 &- t0 &- overhead : 0)
                    outcome.end = t1
                } while outcome.end < deadline
                outcome.ops = workload.operations
                outcome.failures = workload.failures
                workload.drain()
                histograms.withLock { $0.add(histogram) }
                return outcome
            }
            failures[k] += latency.failures
            let histogram = histograms.withLock { $0 }
            let bytesPerSecond = Self.median(poolRates[k])
            rows.append(
                SWIOTLBBenchRow(
                    size: point.size, threads: threads, areas: pool.areaCount,
                    direction: SWIOTLBBenchFormat.direction(direction), allocator: allocator.rawValue,
                    bytesPerSecond: bytesPerSecond, mappingsPerSecond: Self.median(poolOpRates[k]),
                    p50Nanoseconds: Double(histogram.valueAtPercentile(50)),
                    p99Nanoseconds: Double(histogram.valueAtPercentile(99)),
                    memcpyBytesPerSecond: Self.median(copyRates[k]), ratio: Self.median(ratios[k]),
                    highWaterSlots: pool.statistics.highWaterSlots, failures: failures[k],
                    wallBytesPerSecond: Self.median(poolWallRates[k]), queueDepth: depth, mix: point.mix?.text))
        }

        var scaling: [SWIOTLBBenchScaling] = []
        if let first = threadCounts.first, first == 1 {
            for k in threadCounts.indices.dropFirst() {
                scaling.append(
                    SWIOTLBBenchScaling(
                        size: point.size, direction: SWIOTLBBenchFormat.direction(direction), allocator: allocator.rawValue,
                        threads: threadCounts[k], areas: pools[k].areaCount,
                        ratio: Self.median(zip(poolRates[k], poolRates[0]).map { $0 / max($1, 1) }),
                        wallRatio: Self.median(zip(poolWallRates[k], poolWallRates[0]).map { $0 / max($1, 1) }),
                        queueDepth: depth, mix: point.mix?.text))
            }
        }
        return (rows, scaling)
    }

    package static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
