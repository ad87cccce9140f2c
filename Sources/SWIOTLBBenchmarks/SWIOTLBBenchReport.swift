/// One measured point of `svmkit bench swiotlb` (the JSON row the issue specifies).
package struct SWIOTLBBenchRow: Codable, Sendable {
    /// Mapping size in bytes (with a mix: its mean).
    package var size: Int
    /// Threads mapping at once, each with its own CPU hint.
    package var threads: Int
    /// Areas in the pool.
    package var areas: Int
    /// `to-device`, `from-device` or `bidirectional`.
    package var direction: String
    /// `fast` or `reference`.
    package var allocator: String
    /// Mapped payload bytes per second, summed over threads, each over its own CPU
    /// time (median of the rounds).
    package var bytesPerSecond: Double
    /// Map + unmap pairs per second over all threads.
    package var mappingsPerSecond: Double
    /// Median nanoseconds for one map + unmap (timer cost subtracted).
    package var p50Nanoseconds: Double
    /// 99th percentile nanoseconds for one map + unmap.
    package var p99Nanoseconds: Double
    /// Payload bytes per second of the memcpy baseline (one memcpy per mapping for
    /// to-device, two for the other directions), same threads, same run.
    package var memcpyBytesPerSecond: Double
    /// Median over the rounds of (SWIOTLB bytes/s) / (memcpy bytes/s) in the same round.
    package var ratio: Double
    /// The pool's high-water mark after the point.
    package var highWaterSlots: Int
    /// Map calls that failed during the point.
    package var failures: Int
    /// Like `bytesPerSecond`, over wall time instead of the threads' CPU time.
    package var wallBytesPerSecond: Double
    /// Mappings each thread keeps outstanding (the ring's depth).
    package var queueDepth: Int
    /// The size mix (e.g. `4K:70,64K:25,256K:5`), or `nil` when `--sizes` gave one
    /// size per point (then `size` is the mean mapping size of the mix).
    package var mix: String?
}

/// The allocator alone (no copies) on an empty pool and on a 90 %-full one, with
/// mixed sizes.
package struct SWIOTLBAllocationCost: Codable, Sendable {
    /// `fast` or `reference`.
    package var allocator: String
    /// Nanoseconds per release + reserve with a handful of live mappings.
    package var emptyNanoseconds: Double
    /// Nanoseconds per release + reserve with the pool held at `occupancy`.
    package var occupiedNanoseconds: Double
    /// The pool's measured use during the occupied rounds (0...1).
    package var occupancy: Double
    /// occupied / empty.
    package var ratio: Double
    /// Reserve calls that found no room in the occupied pool.
    package var failures: Int
    /// The mapping sizes drawn, in bytes.
    package var sizes: String
}

/// A speed target of issue 7, as measured.
package struct SWIOTLBBenchTarget: Codable, Sendable {
    /// What is compared.
    package var name: String
    /// The measured ratio.
    package var measured: Double
    /// The goal.
    package var goal: Double
    /// `at least` or `at most`.
    package var comparison: String
    /// Whether the goal was met.
    package var met: Bool
}

/// The whole `--json` document.
package struct SWIOTLBBenchReport: Codable, Sendable {
    /// `swiotlb`.
    package var benchmark = "swiotlb"
    /// How the numbers were taken.
    package var method: String
    /// Pool size in bytes.
    package var poolSize: Int
    /// Page size used for the pool.
    package var pageSize: Int
    /// Seconds per point.
    package var seconds: Double
    /// Online CPUs.
    package var cpus: Int
    /// The subtracted cost of reading the clock, in nanoseconds.
    package var timerOverheadNanoseconds: Double
    /// One row per point.
    package var results: [SWIOTLBBenchRow]
    /// Allocator-only costs.
    package var allocationCost: [SWIOTLBAllocationCost]
    /// Throughput with N threads over 1 thread, per size, direction and allocator.
    package var scaling: [SWIOTLBBenchScaling]
    /// The fast allocator's speed over the reference allocator's, where both were run.
    package var fastOverReference: [SWIOTLBBenchComparison]
    /// The targets, where the run measured them.
    package var targets: [SWIOTLBBenchTarget]
    /// Dynamic growth (`--growth`), or `nil`.
    package var growth: SWIOTLBGrowthCost? = nil
}

/// Fast over reference at one point, or for the allocator alone.
package struct SWIOTLBBenchComparison: Codable, Sendable {
    /// What is compared, e.g. `TO_DEVICE 4K, 1 thread` or `allocation, 90 % full`.
    package var name: String
    /// fast bytes/s over reference bytes/s (or reference ns over fast ns).
    package var ratio: Double
}

/// N-thread over one-thread throughput at one size, from the same rounds.
package struct SWIOTLBBenchScaling: Codable, Sendable {
    package var size: Int
    package var direction: String
    package var allocator: String
    /// N.
    package var threads: Int
    package var areas: Int
    /// Over the threads' CPU time (interference between threads: locks, shared lines).
    package var ratio: Double
    /// Over wall time (also counts whether the machine had a free core for each thread).
    package var wallRatio: Double
    /// The ring's depth.
    package var queueDepth: Int
    /// The size mix, or `nil`.
    package var mix: String?
}
