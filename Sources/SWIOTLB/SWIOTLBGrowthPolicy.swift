/// How a ``SWIOTLBDynamicPool`` grows: Linux's `CONFIG_SWIOTLB_DYNAMIC` adds pools of
/// the default size with the default area count (`kernel/dma/swiotlb.c:
/// swiotlb_dyn_alloc (6.12)`); here the size and a cap are the caller's.
public struct SWIOTLBGrowthPolicy: Sendable, Hashable {
    /// Bytes per added pool: a positive multiple of the 256 KiB segment.
    public var poolSize: Int
    /// Areas per added pool.
    public var areas: Int
    /// Most pools added at once (Linux has no cap but memory).
    public var maxPools: Int

    /// A policy; `poolSize` is rounded up to whole segments.
    public init(poolSize: Int, areas: Int = 1, maxPools: Int = 16) {
        let segments = max(1, (poolSize + SWIOTLB.segmentSize - 1) / SWIOTLB.segmentSize)
        self.poolSize = segments * SWIOTLB.segmentSize
        self.areas = max(1, areas)
        self.maxPools = max(0, maxPools)
    }
}
