/// DMA mapping attributes that change SWIOTLB's behaviour; models the `DMA_ATTR_*`
/// bits of `include/linux/dma-mapping.h`, with the kernel's values.
public struct DMAAttributes: OptionSet, Sendable, Hashable {
    /// The bits.
    public let rawValue: UInt

    /// Wraps raw `DMA_ATTR_*` bits.
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// `DMA_ATTR_SKIP_CPU_SYNC` (1 << 5): unmap does not copy back. Map still copies in
    /// (reference/linux-guest-facts.md §2.4).
    public static let skipCPUSync = DMAAttributes(rawValue: 1 << 5)
    /// `DMA_ATTR_NO_WARN` (1 << 8): no "swiotlb buffer is full" message on exhaustion.
    public static let noWarn = DMAAttributes(rawValue: 1 << 8)
}
