/// The reference allocator: Linux's search and release, step by step
/// (`swiotlb_search_pool_area()` and `swiotlb_release_slots()` in
/// `kernel/dma/swiotlb.c`; reference/linux-guest-facts.md §2.3, §2.4).
///
/// `lists[i]` is `slots[i].list`: the number of contiguous free slots from `i` to the
/// end of its segment (0 when allocated). The header's cursor is `area->index`.
extension SlotTable {
    /// `wrap_area_index()`: past the area's end goes back to 0 (not modulo).
    @inline(__always)
    func wrapAreaIndex(_ index: Int) -> Int { index >= areaSlots ? 0 : index }

    /// `iommu_is_span_boundary(index, nr, shift, boundary_size)`.
    @inline(__always)
    static func spansBoundary(_ index: Int, _ count: Int, shift: UInt64, boundarySize: UInt64) -> Bool {
        let offset = (shift &+ UInt64(index)) & (boundarySize &- 1)
        return offset &+ UInt64(count) > boundarySize
    }

    /// Next fit from `area->index`; returns the pool slot of the run's start.
    func referenceAllocate(area: Int, _ r: SlotRequest) -> Int? {
        let h = header(area)
        let nslots = r.slots
        // Fail fast: not enough free slots in the area at all.
        if nslots > areaSlots - h.pointee.used { return nil }
        let slotBase = area * areaSlots
        // tbl_dma_addr = phys_to_dma_unencrypted(dev, pool->start) & boundary_mask
        let tableAddress = (baseSlot << UInt64(SWIOTLB.slotShift)) & r.boundaryMask
        let shift = (tableAddress + UInt64(SWIOTLB.slotSize - 1)) >> UInt64(SWIOTLB.slotShift)
        var index = h.pointee.cursor
        var slotsChecked = 0
        while slotsChecked < areaSlots {
            let slotIndex = slotBase + index
            let tlbAddress = tableAddress &+ (UInt64(slotIndex) << UInt64(SWIOTLB.slotShift))
            if (tlbAddress & r.allocAlignMask) != 0
                || (r.original != 0 && (tlbAddress & r.iotlbAlignMask) != (r.original & r.iotlbAlignMask))
            {
                index = wrapAreaIndex(index + 1)
                slotsChecked += 1
                continue
            }
            if !Self.spansBoundary(slotIndex, nslots, shift: shift, boundarySize: r.boundarySlots)
                && Int(lists[slotIndex]) >= nslots
            {
                // found: mark the run allocated, then recount the free slots before it.
                for i in slotIndex..<(slotIndex + nslots) { lists[i] = 0 }
                var count: UInt16 = 0
                var i = slotIndex - 1
                while (i & (SWIOTLB.segmentSlots - 1)) != SWIOTLB.segmentSlots - 1 && lists[i] != 0 {
                    count += 1
                    lists[i] = count
                    i -= 1
                }
                h.pointee.cursor = wrapAreaIndex(index + nslots)
                return slotIndex
            }
            index = wrapAreaIndex(index + r.stride)
            slotsChecked += r.stride
        }
        return nil
    }

    /// Returns a run to the free list, merging with the free run after it (same
    /// segment) and then with the free slots before it.
    func referenceFree(start index: Int, count nslots: Int) {
        let segmentEnd = (index + 1 + SWIOTLB.segmentSlots - 1) & ~(SWIOTLB.segmentSlots - 1)
        var count: UInt16 = index + nslots < segmentEnd ? lists[index + nslots] : 0
        // Step 1: return the slots, merging with the following ones.
        var i = index + nslots - 1
        while i >= index {
            count += 1
            lists[i] = count
            i -= 1
        }
        // Step 2: merge with the preceding free slots.
        i = index - 1
        while (i & (SWIOTLB.segmentSlots - 1)) != SWIOTLB.segmentSlots - 1 && lists[i] != 0 {
            count += 1
            lists[i] = count
            i -= 1
        }
    }
}
