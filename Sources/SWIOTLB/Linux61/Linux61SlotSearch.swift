/// Slot storage `Linux61SlotSearch` scans: `slots[i].list` (free slots from `i` to the
/// end of its segment, 0 when allocated).
protocol Linux61SlotLists {
    /// `slots[slot].list`.
    subscript(linux61Slot slot: Int) -> Int { get set }
}

extension Array: Linux61SlotLists where Element == Int {
    subscript(linux61Slot slot: Int) -> Int {
        get { self[slot] }
        set { self[slot] = newValue }
    }
}

/// Linux 6.1's scan of one area, `swiotlb_do_find_slots()` (`kernel/dma/swiotlb.c:
/// swiotlb_do_find_slots (6.1)`, Debian's 6.1.192), the one implementation that both
/// the replay model (``SWIOTLBLinux61Pool``) and a pool of kind
/// ``SWIOTLBAllocatorKind/linux61`` run.
///
/// The scan is `do { … } while (index != wrap)` from `wrap = ALIGN(area->index, stride)`:
/// a slot whose address differs from `orig_addr` under `iotlb_align_mask` advances by 1,
/// any other slot that does not fit by `stride`, so with a `min_align_mask` the index
/// can step over `wrap` and never come back. Linux then spins for ever with the area's
/// spinlock held, until commit 7c3940bf81e5 ("swiotlb: fix the deadlock in
/// swiotlb_do_find_slots", v6.3) bounded the loop by `area_nslabs` checked slots
/// (`kernel/dma/swiotlb.c: swiotlb_search_pool_area (6.12)`). The scan's only state is
/// `index`, so one that has not reached `wrap` within `area_nslabs + 1` steps never
/// will: ``Outcome/hang``.
struct Linux61SlotSearch {
    /// `tbl_dma_addr`: `mem->start & boundary_mask`.
    let tableAddress: UInt64
    /// `orig_addr`.
    let original: UInt64
    /// `nr_slots(alloc_size)`.
    let slots: Int
    /// `stride` (``stride(allocationSize:allocAlignMask:minAlignMask:pageSize:)``).
    let stride: Int
    /// `iotlb_align_mask`: `min_align_mask & ~(alloc_align_mask | (IO_TLB_SIZE - 1))`.
    let iotlbAlignMask: UInt64
    /// `get_max_slots(boundary_mask)`.
    let maxSlots: UInt64

    /// What one area's scan found.
    enum Outcome: Equatable {
        /// The run starts at this pool slot (`slot_index`).
        case found(Int)
        /// `goto not_found`: the fail-fast check, or `index` came back to `wrap`.
        case notFound
        /// The loop never ends.
        case hang
    }

    /// The search for `slots` slots from `original` with `stride` and `iotlbAlignMask`
    /// as 6.1 computes them, in a pool starting at `poolStart`.
    init(poolStart: UInt64, original: UInt64, slots: Int, stride: Int, iotlbAlignMask: UInt64, boundaryMask: UInt64) {
        let slotMask = UInt64(SWIOTLB.slotSize - 1)
        tableAddress = poolStart & boundaryMask
        self.original = original
        self.slots = slots
        self.stride = stride
        self.iotlbAlignMask = iotlbAlignMask
        // get_max_slots(): 1 << (BITS_PER_LONG - IO_TLB_SHIFT) for ~0UL.
        maxSlots =
            boundaryMask == .max
            ? 1 << UInt64(64 - SWIOTLB.slotShift) : (boundaryMask &+ 1 &+ slotMask) >> UInt64(SWIOTLB.slotShift)
    }

    /// The search for `allocationSize` bytes (`alloc_size + offset` of
    /// `swiotlb_tbl_map_single()`) from `original`, in a pool starting at `poolStart`.
    init(
        poolStart: UInt64, original: UInt64, allocationSize: UInt64, allocAlignMask: UInt64, minAlignMask: UInt64,
        boundaryMask: UInt64, pageSize: Int
    ) {
        let slotMask = UInt64(SWIOTLB.slotSize - 1)
        self.init(
            poolStart: poolStart, original: original,
            slots: Int(truncatingIfNeeded: (allocationSize &+ slotMask) >> UInt64(SWIOTLB.slotShift)),
            stride: Self.stride(
                allocationSize: allocationSize, allocAlignMask: allocAlignMask, minAlignMask: minAlignMask,
                pageSize: pageSize),
            iotlbAlignMask: minAlignMask & ~(allocAlignMask | slotMask), boundaryMask: boundaryMask)
    }

    /// `stride` of `swiotlb_do_find_slots (6.1)`: `(iotlb_align_mask >> IO_TLB_SHIFT) + 1`,
    /// shifted up to a page for any `alloc_size >= PAGE_SIZE` (whatever the masks), then
    /// at least `(alloc_align_mask >> IO_TLB_SHIFT) + 1`.
    static func stride(allocationSize: UInt64, allocAlignMask: UInt64, minAlignMask: UInt64, pageSize: Int) -> Int {
        let alignMask = allocAlignMask | UInt64(SWIOTLB.slotSize - 1)
        var stride = Int(truncatingIfNeeded: (minAlignMask & ~alignMask) >> UInt64(SWIOTLB.slotShift)) &+ 1
        if allocationSize >= UInt64(pageSize) {
            stride = max(stride, stride << (pageSize.trailingZeroBitCount - SWIOTLB.slotShift))
        }
        return max(stride, Int(truncatingIfNeeded: alignMask >> UInt64(SWIOTLB.slotShift)) &+ 1)
    }

    /// Scans area `area` (`areaSlots` slots from pool slot `area * areaSlots`, `used` of
    /// them taken) from `cursor` (`area->index`). On success marks the run taken, counts
    /// the free slots before it again and moves `cursor` past the run; the caller adds
    /// the run to `area->used` and records `alloc_size`.
    func scan<Lists: Linux61SlotLists>(
        _ lists: inout Lists, area: Int, areaSlots: Int, cursor: inout Int, used: Int
    ) -> Outcome {
        // if (unlikely(nslots > mem->area_nslabs - area->used)) goto not_found;
        guard slots <= areaSlots - used else { return .notFound }
        func wrapAreaIndex(_ i: Int) -> Int { i >= areaSlots ? 0 : i }
        let slotBase = area * areaSlots
        let shift = (tableAddress &+ UInt64(SWIOTLB.slotSize - 1)) >> UInt64(SWIOTLB.slotShift)
        // ALIGN() is a mask operation, `(x + a - 1) & ~(a - 1)`: with a stride that is not
        // a power of two (a min_align_mask above alloc_align_mask gives e.g. 33) it is
        // not a round-up to a multiple (include/uapi/linux/const.h: __ALIGN_KERNEL_MASK (6.1)).
        let wrap = wrapAreaIndex((cursor &+ stride &- 1) & ~(stride &- 1))
        var index = wrap
        var steps = 0
        repeat {
            steps += 1
            if steps > areaSlots + 1 { return .hang }
            let slotIndex = slotBase + index
            let slotAddress = tableAddress &+ (UInt64(slotIndex) << UInt64(SWIOTLB.slotShift))
            if original != 0 && (slotAddress & iotlbAlignMask) != (original & iotlbAlignMask) {
                index = wrapAreaIndex(index + 1)
                continue
            }
            // iommu_is_span_boundary(slot_index, nslots, nr_slots(tbl_dma_addr), max_slots)
            let spans = ((shift &+ UInt64(slotIndex)) & (maxSlots &- 1)) &+ UInt64(slots) > maxSlots
            if !spans && lists[linux61Slot: slotIndex] >= slots {
                for i in slotIndex..<(slotIndex + slots) { lists[linux61Slot: i] = 0 }
                var count = 0
                var i = slotIndex - 1
                while i >= 0 && (i & (SWIOTLB.segmentSlots - 1)) != SWIOTLB.segmentSlots - 1
                    && lists[linux61Slot: i] != 0
                {
                    count += 1
                    lists[linux61Slot: i] = count
                    i -= 1
                }
                cursor = index + slots < areaSlots ? index + slots : 0
                return .found(slotIndex)
            }
            index = wrapAreaIndex(index + stride)
        } while index != wrap
        return .notFound
    }
}
