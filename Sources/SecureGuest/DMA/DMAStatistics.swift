/// DMA counters of the guest kernel.
public struct DMAStatistics: Hashable, Sendable {
    /// Streaming mappings made (`dma_map_single()`).
    public var mappings = 0
    /// Of those, mappings bounced through SWIOTLB.
    public var bouncedMappings = 0
    /// Bytes mapped.
    public var mappedBytes: UInt64 = 0
    /// Bytes mapped through the bounce pool.
    public var bouncedBytes: UInt64 = 0
    /// Unmaps.
    public var unmappings = 0
    /// Live dma-coherent allocations.
    public var coherentAllocations = 0
    /// Bytes in live dma-coherent allocations.
    public var coherentBytes: UInt64 = 0

    /// All zero.
    public init() {}
}
