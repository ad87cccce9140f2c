/// One map request reduced to what the slot search needs, computed as
/// `swiotlb_tbl_map_single()` and `swiotlb_search_pool_area()` compute it
/// (reference/linux-guest-facts.md §2.3 steps 1 and 3).
struct SlotRequest {
    /// `orig_addr`.
    var original: UInt64
    /// `mapping_size`.
    var mappingSize: Int
    /// `offset`: the min-align bits of the original kept in front of the data
    /// (may exceed a slot, giving pad slots).
    var offset: Int
    /// `alloc_size`: `ALIGN(mapping_size + offset, alloc_align_mask + 1)`.
    var allocationSize: Int
    /// `nr_slots(alloc_size)`.
    var slots: Int
    /// The caller's `alloc_align_mask`, as given.
    var callerAllocAlignMask: UInt64
    /// `alloc_align_mask` after the page rule and `| (IO_TLB_SIZE - 1)`.
    var allocAlignMask: UInt64
    /// `iotlb_align_mask`: `min_align_mask` without the bits of `allocAlignMask`.
    var iotlbAlignMask: UInt64
    /// The device's `min_align_mask`, as given.
    var minAlignMask: UInt64
    /// `stride`: `get_max_slots(max(alloc_align_mask, iotlb_align_mask))`.
    var stride: Int
    /// The alignment in slots that both masks together demand (a power of two; more
    /// than 128 only for a `min_align_mask` wider than a segment).
    var period: UInt64
    /// The residue modulo `period` that a run's absolute first slot must have.
    var residue: UInt64
    /// `dma_get_seg_boundary()`.
    var boundaryMask: UInt64
    /// `get_max_slots(boundary_mask)`: the boundary in slots (a power of two; huge when unset).
    var boundarySlots: UInt64

    /// Builds the request, or throws for bad masks and sizes. The common case (no masks,
    /// at most a segment) takes a short path; everything else goes through `general`.
    @inline(__always)
    init(
        original: UInt64, size: Int, allocAlignMask callerMask: UInt64, device: DMADevice, pageSize: Int
    ) throws(SWIOTLBError) {
        guard callerMask == 0, device.minAlignMask == 0, device.segmentBoundaryMask == .max, size > 0,
            size <= SWIOTLB.segmentSize, original <= UInt64.max &- UInt64(size)
        else {
            self = try Self.general(
                original: original, size: size, allocAlignMask: callerMask, device: device, pageSize: pageSize)
            return
        }
        // Historic guarantee: a request of a page or more is page-aligned (§2.3 step 3).
        let pageAligned = size >= pageSize
        let alignMask = pageAligned ? UInt64(pageSize &- 1) : UInt64(SWIOTLB.slotSize &- 1)
        let period = (alignMask &>> UInt64(SWIOTLB.slotShift)) &+ 1
        self.original = original
        self.mappingSize = size
        self.offset = 0
        self.allocationSize = size
        self.slots = (size &+ (SWIOTLB.slotSize &- 1)) &>> SWIOTLB.slotShift
        self.callerAllocAlignMask = 0
        self.allocAlignMask = alignMask
        self.iotlbAlignMask = 0
        self.minAlignMask = 0
        self.stride = Int(truncatingIfNeeded: period)
        self.period = period
        self.residue = 0
        self.boundaryMask = .max
        self.boundarySlots = (UInt64.max &>> UInt64(SWIOTLB.slotShift)) &+ 1
    }

    init(
        original: UInt64, mappingSize: Int, offset: Int, allocationSize: Int, callerAllocAlignMask: UInt64,
        allocAlignMask: UInt64, iotlbAlignMask: UInt64, minAlignMask: UInt64, boundaryMask: UInt64
    ) {
        self.original = original
        self.mappingSize = mappingSize
        self.offset = offset
        self.allocationSize = allocationSize
        self.slots = SWIOTLB.slots(covering: allocationSize)
        self.callerAllocAlignMask = callerAllocAlignMask
        self.allocAlignMask = allocAlignMask
        self.iotlbAlignMask = iotlbAlignMask
        self.minAlignMask = minAlignMask
        let combined = max(allocAlignMask, iotlbAlignMask)
        self.stride = Int(combined >> UInt64(SWIOTLB.slotShift)) + 1
        // Both masks are low masks, so together they pin the low bits of the slot number:
        // zero under the alloc_align bits, orig's bits under the iotlb bits. orig == 0
        // skips the min-align comparison, as the kernel does.
        let checked = original == 0 ? allocAlignMask : (allocAlignMask | iotlbAlignMask)
        self.period = (checked >> UInt64(SWIOTLB.slotShift)) &+ 1
        self.residue = original == 0 ? 0 : (original & iotlbAlignMask) >> UInt64(SWIOTLB.slotShift)
        self.boundaryMask = boundaryMask
        self.boundarySlots = (boundaryMask >> UInt64(SWIOTLB.slotShift)) &+ 1
    }

    /// Every case, with validation: masks, sizes, the min-align offset, the alignment
    /// round-up and the page rule, as `swiotlb_tbl_map_single()` and
    /// `swiotlb_search_pool_area()` compute them.
    @inline(never)
    static func general(
        original: UInt64, size: Int, allocAlignMask callerMask: UInt64, device: DMADevice, pageSize: Int
    ) throws(SWIOTLBError) -> SlotRequest {
        guard size > 0 else { throw .invalidSize(size, operation: .map) }
        let minAlign = device.minAlignMask
        guard callerMask & (callerMask &+ 1) == 0 else { throw .invalidMask(name: "alloc_align_mask", value: callerMask) }
        guard minAlign & (minAlign &+ 1) == 0 else { throw .invalidMask(name: "min_align_mask", value: minAlign) }
        let boundary = device.segmentBoundaryMask
        guard boundary & (boundary &+ 1) == 0, boundary >= UInt64(SWIOTLB.slotSize - 1) else {
            throw .invalidMask(name: "segment_boundary_mask", value: boundary)
        }
        let maxSize = SWIOTLB.segmentSize
        guard size <= maxSize else {
            throw .mappingTooLarge(size: size, allocationSize: size, maximum: SWIOTLB.maxMappingSize(minAlignMask: minAlign))
        }
        guard original <= UInt64.max - UInt64(size) else { throw .originalOutOfRange(original: original, size: size) }
        let slotMask = UInt64(SWIOTLB.slotSize - 1)
        let offset = Int(original & minAlign & (callerMask | slotMask))
        // ALIGN(mapping_size + offset, alloc_align_mask + 1); a mask of 256 KiB or more
        // already makes any mapping too large.
        let unaligned = size + offset
        let allocationSize: Int
        if callerMask == 0 {
            allocationSize = unaligned
        } else if callerMask >= UInt64(maxSize) {
            allocationSize = Int.max
        } else {
            allocationSize = (unaligned + Int(callerMask)) & ~Int(callerMask)
        }
        guard allocationSize <= maxSize else {
            throw .mappingTooLarge(
                size: size, allocationSize: allocationSize, maximum: SWIOTLB.maxMappingSize(minAlignMask: minAlign))
        }
        var alignMask = callerMask
        if alignMask == 0 && minAlign == 0 && allocationSize >= pageSize { alignMask = UInt64(pageSize - 1) }
        alignMask |= slotMask
        return SlotRequest(
            original: original, mappingSize: size, offset: offset, allocationSize: allocationSize,
            callerAllocAlignMask: callerMask, allocAlignMask: alignMask, iotlbAlignMask: minAlign & ~alignMask,
            minAlignMask: minAlign, boundaryMask: boundary)
    }
}
