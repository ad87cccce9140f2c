/// The constants of Linux's software I/O TLB, the bounce-buffer pool that a POWER
/// secure guest forces every streaming DMA mapping through.
///
/// Models `include/linux/swiotlb.h` and `kernel/dma/swiotlb.c`
/// (reference/linux-guest-facts.md §2.1). The pool itself is ``SWIOTLBPool``.
public enum SWIOTLB {
    /// `IO_TLB_SHIFT`: log2 of the slot size (11).
    public static let slotShift = 11
    /// `IO_TLB_SIZE`: one slot is 2 KiB.
    public static let slotSize = 1 << slotShift
    /// `IO_TLB_SEGSIZE`: 128 slots form a segment (a "slot set") that no mapping crosses.
    public static let segmentSlots = 128
    /// One segment in bytes: 256 KiB, also the largest allocation a mapping may need.
    public static let segmentSize = segmentSlots * slotSize
    /// `IO_TLB_DEFAULT_SIZE`: 64 MiB.
    public static let defaultSize = 64 << 20
    /// The default pool in slots: 32768.
    public static let defaultSlots = defaultSize >> slotShift
    /// `IO_TLB_MIN_SLABS`: 1 MiB (512 slots), the floor when Linux halves a pool it
    /// could not allocate.
    public static let minimumSlots = (1 << 20) >> slotShift
    /// The page size of a pseries kernel built with 64 KiB pages (the pool is shared
    /// in whole pages, and streaming mappings of at least a page are page-aligned).
    public static let defaultPageSize = 1 << 16

    /// Models `swiotlb_max_mapping_size()`: 256 KiB less `min_align_mask` rounded up to
    /// a slot when the device sets one (NVMe's 0xfff gives 252 KiB).
    public static func maxMappingSize(minAlignMask: UInt64) -> Int {
        guard minAlignMask != 0 else { return segmentSize }
        let rounded = (minAlignMask | UInt64(slotSize - 1)) &+ 1
        return rounded >= UInt64(segmentSize) ? 0 : segmentSize - Int(rounded)
    }

    /// Models `nr_slots()`: the slots that `bytes` bytes occupy, rounded up.
    @inlinable
    public static func slots(covering bytes: Int) -> Int { (bytes + slotSize - 1) >> slotShift }
}
