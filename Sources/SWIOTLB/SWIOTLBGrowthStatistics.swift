/// What a ``SWIOTLBDynamicPool`` has done to grow and shrink.
public struct SWIOTLBGrowthStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Pools added.
    public var growths = 0
    /// Growth attempts that failed (allocation, share, or the cap), each leaving nothing shared.
    public var failedGrowths = 0
    /// Calls to the share hook (one per growth attempt that got memory).
    public var shareCalls = 0
    /// Calls to the unshare hook (one per released pool, one per failed share).
    public var unshareCalls = 0
    /// Bytes shared by successful growths.
    public var bytesShared = 0
    /// Bytes unshared and returned to the allocator by ``SWIOTLBDynamicPool/releaseIdlePools()``.
    public var bytesReturned = 0
    /// Bytes that could not be made private again and were kept out of the allocator
    /// (leaked on purpose, as Linux does after a failed `set_memory_encrypted()`).
    public var bytesQuarantined = 0
    /// Added pools alive now.
    public var extraPools = 0

    /// Makes empty statistics.
    public init() {}

    /// E.g. `2 growths (0 failed), 2 share and 1 unshare calls, 4194304 bytes shared, 2097152 returned`.
    public var description: String {
        "\(growths) growths (\(failedGrowths) failed), \(shareCalls) share and \(unshareCalls) unshare calls, "
            + "\(bytesShared) bytes shared, \(bytesReturned) returned, \(bytesQuarantined) quarantined, "
            + "\(extraPools) extra pools"
    }
}
