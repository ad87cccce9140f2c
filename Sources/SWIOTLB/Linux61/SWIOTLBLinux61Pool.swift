/// Linux 6.1's SWIOTLB slot search and release, step by step, for the 6.1 kernel
/// profile: `swiotlb_tbl_map_single()`, `swiotlb_find_slots()`,
/// `swiotlb_do_find_slots()` and `swiotlb_release_slots()` of
/// `kernel/dma/swiotlb.c (6.1)` (Debian's 6.1.192), which predate the 2024 alignment
/// fixes (reference/linux-guest-facts.md §4.4): no `pad_slots`, the min-align offset
/// kept below one slot (`swiotlb_align_offset()` masks with `IO_TLB_SIZE - 1`), the
/// allocation alignment enforced only through the stride, the page rule applied to any
/// request of a page or more, and the scan a `do … while (index != wrap)` loop that
/// starts at `ALIGN(area->index, stride)`.
///
/// That loop never ends when its `+1` (misaligned slot) and `+stride` steps skip past
/// `wrap`: 6.1 then spins forever holding the area's spinlock. This model detects the
/// cycle instead (the scan's only state is `index`, so a scan that has not come back to
/// `wrap` within `area_nslabs` steps never will) and reports it as ``lastMapHung``; the
/// map fails and nothing changes, as the oracle reports a map that does not return.
///
/// A replay target (``SWIOTLBReplayTarget``) checked op by op against the real 6.1 code
/// by the Linux oracle. It is a model of the search only: no copies, no memory. The scan
/// itself is the one a ``SWIOTLBPool`` of kind ``SWIOTLBAllocatorKind/linux61`` runs
/// (one implementation, `Linux61SlotSearch`); this model adds 6.1's per-slot
/// `alloc_size` bookkeeping and release.
public final class SWIOTLBLinux61Pool: SWIOTLBReplayTarget {
    /// `mem->start`.
    public let start: UInt64
    /// `mem->nslabs`.
    public let slotCount: Int
    /// `mem->nareas`.
    public let areaCount: Int
    /// `PAGE_SIZE` of the modelled kernel.
    public let pageSize: Int

    private let areaSlots: Int
    /// `slots[i].list`.
    private var list: [Int]
    /// `slots[i].alloc_size`.
    private var slotAllocSize: [UInt64]
    /// `areas[a].index`, `areas[a].used`.
    private var areaIndex: [Int]
    private var areaUsed: [Int]
    /// The device's `min_align_mask` at map time, by `tlb_addr` (unmap needs it).
    private var minAlignAtMap: [UInt64: UInt32] = [:]

    /// Whether the last ``replayMap(_:)`` hit 6.1's endless scan.
    public private(set) var lastMapHung = false

    /// A pool of `slotCount` slots at `start` in `areaCount` areas (`swiotlb_init_io_tlb_mem`,
    /// 6.1): every segment's `list` counts down from 128, every cursor and count is 0.
    public init(start: UInt64, slotCount: Int, areaCount: Int, pageSize: Int) {
        self.start = start
        self.slotCount = max(slotCount, 0)
        self.areaCount = max(areaCount, 1)
        self.pageSize = pageSize
        self.areaSlots = self.slotCount / self.areaCount
        self.list = (0..<self.slotCount).map { SWIOTLB.segmentSlots - ($0 & (SWIOTLB.segmentSlots - 1)) }
        self.slotAllocSize = [UInt64](repeating: 0, count: self.slotCount)
        self.areaIndex = [Int](repeating: 0, count: self.areaCount)
        self.areaUsed = [Int](repeating: 0, count: self.areaCount)
    }

    /// A pool as a replay trace describes it.
    public convenience init(_ pool: SWIOTLBReplayPool) {
        self.init(start: pool.start, slotCount: pool.nslabs, areaCount: pool.nareas, pageSize: pool.pageSize)
    }

    private static let slotMask: UInt64 = UInt64(SWIOTLB.slotSize - 1)
    private static func nrSlots(_ bytes: UInt64) -> UInt64 { (bytes + slotMask) >> UInt64(SWIOTLB.slotShift) }

    /// `swiotlb_map()` → `swiotlb_tbl_map_single(dev, orig, size, size, alloc_align_mask,
    /// …)`: the bounce address, or `nil` (`DMA_MAPPING_ERROR`, or the endless scan).
    public func replayMap(_ request: SWIOTLBReplayMap) -> UInt64? {
        lastMapHung = false
        guard slotCount > 0, request.size > 0 else { return nil }
        let minAlign = UInt32(truncatingIfNeeded: request.minAlignMask)
        let orig = request.origAddr
        // swiotlb_align_offset(): orig & min_align_mask & (IO_TLB_SIZE - 1).
        let offset = orig & UInt64(minAlign) & Self.slotMask
        let allocSize = UInt64(request.size)
        let first = request.cpu & (areaCount - 1)
        var area = first
        repeat {
            switch findSlots(
                area: area, orig: orig, allocSize: allocSize &+ offset,
                allocAlignMask: UInt32(truncatingIfNeeded: request.allocAlignMask), minAlign: minAlign,
                boundaryMask: request.segBoundaryMask)
            {
            case .found(let index):
                let tlb = start &+ (UInt64(index) << UInt64(SWIOTLB.slotShift)) &+ offset
                minAlignAtMap[tlb] = minAlign
                return tlb
            case .hang:
                lastMapHung = true
                return nil
            case .notFound:
                area += 1
                if area >= areaCount { area = 0 }
            }
        } while area != first
        return nil
    }

    /// `swiotlb_do_find_slots()` (6.1) in area `area`: ``Linux61SlotSearch``, plus the
    /// per-slot `alloc_size` and `area->used` it records on success.
    private func findSlots(
        area: Int, orig: UInt64, allocSize: UInt64, allocAlignMask: UInt32, minAlign: UInt32,
        boundaryMask: UInt64
    ) -> Linux61SlotSearch.Outcome {
        let search = Linux61SlotSearch(
            poolStart: start, original: orig, allocationSize: allocSize, allocAlignMask: UInt64(allocAlignMask),
            minAlignMask: UInt64(minAlign), boundaryMask: boundaryMask, pageSize: pageSize)
        let outcome = search.scan(
            &list, area: area, areaSlots: areaSlots, cursor: &areaIndex[area], used: areaUsed[area])
        if case .found(let slotIndex) = outcome {
            let offset = orig & UInt64(minAlign) & Self.slotMask
            for i in slotIndex..<(slotIndex + search.slots) {
                slotAllocSize[i] = allocSize &- (offset &+ (UInt64(i - slotIndex) << UInt64(SWIOTLB.slotShift)))
            }
            areaUsed[area] += search.slots
        }
        return outcome
    }

    /// `swiotlb_tbl_unmap_single()` → `swiotlb_release_slots()` (6.1): the run found from
    /// the slot's `alloc_size` and the offset, merged with the free slots after it (same
    /// segment) and before it.
    public func replayUnmap(address: UInt64, size: Int) {
        guard let minAlign = minAlignAtMap.removeValue(forKey: address) else { return }
        let offset = address & UInt64(minAlign) & Self.slotMask
        let index = Int((address &- offset &- start) >> UInt64(SWIOTLB.slotShift))
        guard index >= 0, index < slotCount else { return }
        let nslots = Int(Self.nrSlots(slotAllocSize[index] &+ offset))
        let area = index / areaSlots
        let segmentEnd = (index + 1 + SWIOTLB.segmentSlots - 1) & ~(SWIOTLB.segmentSlots - 1)
        var count = index + nslots < segmentEnd && index + nslots < slotCount ? list[index + nslots] : 0
        var i = min(index + nslots, slotCount) - 1
        while i >= index {
            count += 1
            list[i] = count
            slotAllocSize[i] = 0
            i -= 1
        }
        i = index - 1
        while i >= 0 && (i & (SWIOTLB.segmentSlots - 1)) != SWIOTLB.segmentSlots - 1 && list[i] != 0 {
            count += 1
            list[i] = count
            i -= 1
        }
        if area < areaCount { areaUsed[area] -= nslots }
    }

    /// ``lastMapHung``, for the replayer.
    public var replayLastMapHung: Bool { lastMapHung }

    /// `mem_used()` (6.1): the sum of the areas' `used`.
    public var replayUsedSlots: Int { areaUsed.reduce(0, +) }
}
