/// The direction of a streaming DMA mapping; models `enum dma_data_direction`
/// (`include/linux/dma-direction.h`), with the kernel's values.
///
/// `DMA_NONE` (3) is not a case: the kernel BUGs on it in every SWIOTLB path.
/// Copy semantics per direction are in reference/linux-guest-facts.md §2.4.
public enum DMADirection: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// `DMA_BIDIRECTIONAL` (0): data goes both ways; copied in at map and out at unmap.
    case bidirectional = 0
    /// `DMA_TO_DEVICE` (1): the device reads; copied in at map and `syncForDevice`.
    case toDevice = 1
    /// `DMA_FROM_DEVICE` (2): the device writes; copied out at unmap and `syncForCPU`.
    case fromDevice = 2

    /// Whether bounce data goes back to the original at unmap and `syncForCPU`.
    @inlinable
    public var copiesToCPU: Bool { self != .toDevice }

    /// Whether original data goes to the bounce buffer at `syncForDevice`.
    @inlinable
    public var copiesToDevice: Bool { self != .fromDevice }

    /// The kernel spelling, e.g. `DMA_TO_DEVICE`.
    public var description: String {
        switch self {
        case .bidirectional: "DMA_BIDIRECTIONAL"
        case .toDevice: "DMA_TO_DEVICE"
        case .fromDevice: "DMA_FROM_DEVICE"
        }
    }
}
