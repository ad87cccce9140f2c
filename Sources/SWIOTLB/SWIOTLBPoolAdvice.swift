/// The answer to "how big must the bounce pool be for this workload?", found by
/// replaying a recorded request stream (``SWIOTLBReplayScenario``) against pools of
/// growing size: what `svmkit swiotlb advise` prints (reference/peers.md (c) 2).
public struct SWIOTLBPoolAdvice: Sendable, Hashable {
    /// The scenario the advice is for.
    public let scenario: String
    /// Areas of every pool tried (the trace's `nareas` unless asked otherwise).
    public let areas: Int
    /// The allocator replayed (``SWIOTLBAllocatorKind/reference`` is Linux's search).
    public let allocator: SWIOTLBAllocatorKind
    /// The smallest pool, in slots, with no "buffer is full" failure: the raw need, a
    /// multiple of 128 × `areas` (a pool is whole segments in equal areas), before
    /// Linux's rounding of a `swiotlb=` value. `nil` if none up to the search limit works.
    public let minimumSlots: Int?
    /// ``minimumSlots`` in bytes.
    public var minimumBytes: Int? { minimumSlots.map { $0 << SWIOTLB.slotShift } }
    /// The most slots in use at one instant in the replay on the minimum pool.
    public let highWaterSlots: Int
    /// The slots the live mappings needed at their peak, ignoring alignment and
    /// fragmentation (a lower bound of ``minimumSlots``).
    public let peakDemandSlots: Int
    /// Free slots at the high-water instant on the minimum pool.
    public let freeSlotsAtPeak: Int
    /// The longest free run at that instant.
    public let largestFreeRunAtPeak: Int
    /// Map requests no pool could satisfy (too large after alignment); Linux fails them
    /// with "swiotlb buffer is full" whatever the size. Not counted against a size.
    public let impossibleMaps: Int
    /// The `swiotlb=` value to use, `"<slots>,<areas>"`, whose pool after Linux's
    /// rounding holds at least ``minimumSlots``.
    public let swiotlbParameter: String?
    /// The pool that parameter gives after Linux's rounding, in slots.
    public let roundedSlots: Int?
    /// "buffer is full" failures when the trace is replayed on the rounded pool (0
    /// unless next fit is unlucky on the larger pool; then the advice says so).
    public let failuresAtRoundedSize: Int?

    /// Fragmentation at the peak: the share of free slots outside the longest free run
    /// (0 when the free space is one run).
    public var fragmentationAtPeak: Double {
        freeSlotsAtPeak == 0 ? 0 : 1 - Double(largestFreeRunAtPeak) / Double(freeSlotsAtPeak)
    }
}

/// The `--json` form of `svmkit swiotlb advise`: every field, the computed ones
/// (`minimumBytes`, `fragmentationAtPeak`) included; `nil` fields are left out.
extension SWIOTLBPoolAdvice: Encodable {
    enum CodingKeys: String, CodingKey {
        case scenario, areas, allocator, minimumSlots, minimumBytes, highWaterSlots, peakDemandSlots
        case freeSlotsAtPeak, largestFreeRunAtPeak, fragmentationAtPeak, impossibleMaps, swiotlbParameter
        case roundedSlots, failuresAtRoundedSize
    }

    /// Encodes the advice under the field names above.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(scenario, forKey: .scenario)
        try c.encode(areas, forKey: .areas)
        try c.encode(allocator.rawValue, forKey: .allocator)
        try c.encodeIfPresent(minimumSlots, forKey: .minimumSlots)
        try c.encodeIfPresent(minimumBytes, forKey: .minimumBytes)
        try c.encode(highWaterSlots, forKey: .highWaterSlots)
        try c.encode(peakDemandSlots, forKey: .peakDemandSlots)
        try c.encode(freeSlotsAtPeak, forKey: .freeSlotsAtPeak)
        try c.encode(largestFreeRunAtPeak, forKey: .largestFreeRunAtPeak)
        try c.encode(fragmentationAtPeak, forKey: .fragmentationAtPeak)
        try c.encode(impossibleMaps, forKey: .impossibleMaps)
        try c.encodeIfPresent(swiotlbParameter, forKey: .swiotlbParameter)
        try c.encodeIfPresent(roundedSlots, forKey: .roundedSlots)
        try c.encodeIfPresent(failuresAtRoundedSize, forKey: .failuresAtRoundedSize)
    }
}
