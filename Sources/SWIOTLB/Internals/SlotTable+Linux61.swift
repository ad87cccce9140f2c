/// The Linux 6.1 allocator (``SWIOTLBAllocatorKind/linux61``): 6.1's own scan,
/// ``Linux61SlotSearch``, over the same `lists` and cursor as the reference allocator.
/// Release is the reference allocator's: 6.1's `swiotlb_release_slots()` merges a run
/// with its free neighbours exactly as 6.12's does (`kernel/dma/swiotlb.c:
/// swiotlb_release_slots (6.1, 6.12)`), and the pool frees the slot count it recorded,
/// which is 6.1's `nr_slots(alloc_size + offset)`.
extension SlotTable {
    /// `lists` as the scan sees it.
    struct Linux61Lists: Linux61SlotLists {
        let lists: UnsafeMutablePointer<UInt16>

        subscript(linux61Slot slot: Int) -> Int {
            get { Int(lists[slot]) }
            nonmutating set { lists[slot] = UInt16(truncatingIfNeeded: newValue) }
        }
    }

    /// `swiotlb_do_find_slots()` (6.1) in `area` (area lock held): marks the run and
    /// moves `area->index`; the caller counts the slots.
    func linux61Allocate(area: Int, _ r: SlotRequest) -> Linux61SlotSearch.Outcome {
        let search = Linux61SlotSearch(
            poolStart: baseSlot << UInt64(SWIOTLB.slotShift), original: r.original, slots: r.slots, stride: r.stride,
            iotlbAlignMask: r.iotlbAlignMask, boundaryMask: r.boundaryMask)
        let h = header(area)
        var view = Linux61Lists(lists: lists)
        var cursor = h.pointee.cursor
        let outcome = search.scan(&view, area: area, areaSlots: areaSlots, cursor: &cursor, used: h.pointee.used)
        h.pointee.cursor = cursor
        return outcome
    }

    /// Whether 6.1's scan of `area` for `r` would never end (area lock held). A scan
    /// that finds nothing changes nothing, so asking again gives the answer the failed
    /// ``allocate(area:_:)`` saw.
    func linux61Hangs(area: Int, _ r: SlotRequest) -> Bool {
        linux61Allocate(area: area, r) == .hang
    }
}
