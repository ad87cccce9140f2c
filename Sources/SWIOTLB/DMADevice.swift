/// What the pool needs to know about the device a mapping is for: the two
/// `struct device_dma_parameters` fields the slot search reads.
public struct DMADevice: Sendable, Hashable {
    /// `dma_get_min_align_mask()`: low bits of the original address that the bounce
    /// address must keep (NVMe uses 0xfff). A low mask `2^k - 1`, or 0.
    public var minAlignMask: UInt64
    /// `dma_get_seg_boundary()`: a mapping must not cross a multiple of this plus one
    /// in bus address space. A low mask `2^k - 1`; `UInt64.max` (the default) means none.
    public var segmentBoundaryMask: UInt64

    /// A device with the given masks; the defaults ask for nothing.
    public init(minAlignMask: UInt64 = 0, segmentBoundaryMask: UInt64 = .max) {
        self.minAlignMask = minAlignMask
        self.segmentBoundaryMask = segmentBoundaryMask
    }
}
