/// One measured point of `svmkit bench swiotlb` (the JSON row the issue specifies).
struct SWIOTLBBenchRow: Codable, Sendable {
    /// Mapping size in bytes (with a mix: its mean).
    var size: Int
    /// Threads mapping at once, each with its own CPU hint.
    var threads: Int
    /// Areas in the pool.
    var areas: Int
    /// `to-device`, `from-device` or `bidirectional`.
    var direction: String
    /// `fast` or `reference`.
    var allocator: String
    /// Mapped payload bytes per second, summed over threads, each over its own CPU
    /// time (median of the rounds).
    var bytesPerSecond: Double
    /// Map + unmap pairs per second over all threads.
    var mappingsPerSecond: Double
    /// Median nanoseconds for one map + unmap (timer cost subtracted).
    var p50Nanoseconds: Double
    /// 99th percentile nanoseconds for one map + unmap.
    var p99Nanoseconds: Double
    /// Payload bytes per second of the memcpy baseline (one memcpy per mapping for
    /// to-device, two for the other directions), same threads, same run.
    var memcpyBytesPerSecond: Double
    /// Median over the rounds of (SWIOTLB bytes/s) / (memcpy bytes/s) in the same round.
    var ratio: Double
    /// The pool's high-water mark after the point.
    var highWaterSlots: Int
    /// Map calls that failed during the point.
    var failures: Int
    /// Like `bytesPerSecond`, over wall time instead of the threads' CPU time.
    var wallBytesPerSecond: Double
    /// Mappings each thread keeps outstanding (the ring's depth).
    var queueDepth: Int
    /// The size mix (e.g. `4K:70,64K:25,256K:5`), or `nil` when `--sizes` gave one
    /// size per point (then `size` is the mean mapping size of the mix).
    var mix: String?
}

/// The allocator alone (no copies) on an empty pool and on a 90 %-full one, with
/// mixed sizes.
struct SWIOTLBAllocationCost: Codable, Sendable {
    /// `fast` or `reference`.
    var allocator: String
    /// Nanoseconds per release + reserve with a handful of live mappings.
    var emptyNanoseconds: Double
    /// Nanoseconds per release + reserve with the pool held at `occupancy`.
    var occupiedNanoseconds: Double
    /// The pool's measured use during the occupied rounds (0...1).
    var occupancy: Double
    /// occupied / empty.
    var ratio: Double
    /// Reserve calls that found no room in the occupied pool.
    var failures: Int
    /// The mapping sizes drawn, in bytes.
    var sizes: String
}

/// A speed target of issue 7, as measured.
struct SWIOTLBBenchTarget: Codable, Sendable {
    /// What is compared.
    var name: String
    /// The measured ratio.
    var measured: Double
    /// The goal.
    var goal: Double
    /// `at least` or `at most`.
    var comparison: String
    /// Whether the goal was met.
    var met: Bool
}

/// The whole `--json` document.
struct SWIOTLBBenchReport: Codable, Sendable {
    /// `swiotlb`.
    var benchmark = "swiotlb"
    /// How the numbers were taken.
    var method: String
    /// Pool size in bytes.
    var poolSize: Int
    /// Page size used for the pool.
    var pageSize: Int
    /// Seconds per point.
    var seconds: Double
    /// Online CPUs.
    var cpus: Int
    /// The subtracted cost of reading the clock, in nanoseconds.
    var timerOverheadNanoseconds: Double
    /// One row per point.
    var results: [SWIOTLBBenchRow]
    /// Allocator-only costs.
    var allocationCost: [SWIOTLBAllocationCost]
    /// Throughput with N threads over 1 thread, per size, direction and allocator.
    var scaling: [SWIOTLBBenchScaling]
    /// The fast allocator's speed over the reference allocator's, where both were run.
    var fastOverReference: [SWIOTLBBenchComparison]
    /// The targets, where the run measured them.
    var targets: [SWIOTLBBenchTarget]
    /// Dynamic growth (`--growth`), or `nil`.
    var growth: SWIOTLBGrowthCost? = nil
}

/// Fast over reference at one point, or for the allocator alone.
struct SWIOTLBBenchComparison: Codable, Sendable {
    /// What is compared, e.g. `TO_DEVICE 4K, 1 thread` or `allocation, 90 % full`.
    var name: String
    /// fast bytes/s over reference bytes/s (or reference ns over fast ns).
    var ratio: Double
}

/// N-thread over one-thread throughput at one size, from the same rounds.
struct SWIOTLBBenchScaling: Codable, Sendable {
    var size: Int
    var direction: String
    var allocator: String
    /// N.
    var threads: Int
    var areas: Int
    /// Over the threads' CPU time (interference between threads: locks, shared lines).
    var ratio: Double
    /// Over wall time (also counts whether the machine had a free core for each thread).
    var wallRatio: Double
    /// The ring's depth.
    var queueDepth: Int
    /// The size mix, or `nil`.
    var mix: String?
}
