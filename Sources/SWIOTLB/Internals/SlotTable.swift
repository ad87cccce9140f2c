#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One area's counters (`struct io_tlb_area` without its lock). Each area has a
/// block of its own (a multiple of 128 bytes, so that areas never share a cache line):
/// its lock word at offset 0, these counters right after it, in the same cache line,
/// and the fast allocator's run cache from the next line on, so that a map or unmap
/// served by the cache touches only its area's block, the mapping's record and its
/// segment's masks.
struct AreaHeader {
    /// `area->used`.
    var used: Int
    /// The most slots this area has held at once.
    var highWater: Int
    /// Reference allocator: `area->index`, the next-fit cursor (a slot within the area).
    /// Fast allocator: the lowest segment of the area that may have a free slot
    /// (every segment below it is full).
    var cursor: Int
    /// Map calls that started here and failed everywhere.
    var failures: Int
}

/// A segment's free bitmap, bit `i` for the segment's slot `i` (fast allocator: free
/// slots not counting cached ones). Four segments share a cache line.
struct SegmentMasks {
    var free: UInt128
}

/// What the pool remembers about a mapping, stored at its first data slot: 16 bytes,
/// so a mapping's metadata is one record in one cache line (Linux spreads the same
/// facts over `struct io_tlb_slot`: `orig_addr`, `alloc_size`, `pad_slots`).
///
/// The record also says whether its slot is the first data slot of a live mapping, or
/// of an unmapped one whose record has not been overwritten since (to tell a double
/// unmap from an unmap of garbage, together with a check that the mapping's slots are
/// all free). It is written by whoever holds the mapping's slots: the area lock's
/// holder, or the CPU handle that popped the run from its cache.
struct SlotRecord {
    /// `orig_addr` of the first data slot.
    var original: UInt64
    /// The size given to map.
    var mappingSize: UInt32
    /// The bounce address's offset inside its slot (`offset & (IO_TLB_SIZE - 1)`, below
    /// 2048) in the low bits, and the state bits above.
    var offsetAndState: UInt16
    /// Slots allocated, padding included (`nr_slots(alloc_size)`).
    var slots: UInt8
    /// `pad_slots`: slots in front of the first data slot.
    var padSlots: UInt8

    static let liveBit: UInt16 = 0x8000
    static let releasedBit: UInt16 = 0x4000
    static let offsetMask: UInt16 = 0x07FF
    static let empty = SlotRecord(original: 0, mappingSize: 0, offsetAndState: 0, slots: 0, padSlots: 0)

    /// The in-slot offset of the bounce address.
    var offset: UInt16 { offsetAndState & Self.offsetMask }
    /// The first data slot of a live mapping.
    var isLive: Bool { offsetAndState & Self.liveBit != 0 }
    /// The first data slot of an unmapped mapping, record not overwritten since.
    var isReleased: Bool { offsetAndState & Self.releasedBit != 0 }

    /// Whether this is the first data slot of a live mapping whose bounce address has
    /// in-slot offset `offset`.
    @inline(__always)
    func isLiveHead(offset: Int) -> Bool { offsetAndState == UInt16(truncatingIfNeeded: offset) | Self.liveBit }

    /// Marks a live mapping unmapped: no longer live, remembered as released.
    @inline(__always)
    mutating func retire() { offsetAndState = (offsetAndState & Self.offsetMask) | Self.releasedBit }
}

/// All of a pool's slot metadata in raw memory: area headers with their locks,
/// segment bitmaps, the fast allocator's max-run trees, the reference allocator's
/// `list[]`, and per-slot mapping records.
///
/// Invariant (the reason for `@unchecked Sendable`): the memory is allocated by `init`
/// and freed only by `deinit`. Everything about area `a` (its header fields other than the lock, its
/// segments' masks, its tree, its `lists`) is read or written only while `lock(a)` is
/// held. Its run cache is the lock holder's too, unless a ``SWIOTLBCPU`` has claimed
/// the area: then only that handle changes the cache (and others only read it, through
/// atomics). A mapping's record is written by whoever holds the mapping's slots (the
/// lock holder, or the claiming handle for a run from its cache) and read by whoever
/// unmaps or syncs that mapping, which the caller's own ordering of map before unmap
/// makes safe, as in Linux. The `let` fields never change. Indices are derived from
/// addresses only after the pool has checked that they fall inside the region.
final class SlotTable: @unchecked Sendable {
    // Fields a map or unmap reads come first, so that they share the object's first
    // cache line.
    /// Each area's block: its lock word, its `AreaHeader`, then (fast allocator) its
    /// run cache; `headerStride` bytes apart, 128-byte aligned.
    let headers: UnsafeMutableRawPointer
    let headerStride: Int
    let records: UnsafeMutablePointer<SlotRecord>
    let segments: UnsafeMutablePointer<SegmentMasks>
    /// Pool-wide `total_used` and `used_hiwater` (atomics, outside the area locks).
    let counters = PoolCounters()
    let kind: SWIOTLBAllocatorKind
    /// log2(`areaSlots`) when it is a power of two, else -1.
    let areaShift: Int
    /// `area_nslabs`, a multiple of 128.
    let areaSlots: Int
    /// The absolute slot number of the pool's first slot (`pool->start >> IO_TLB_SHIFT`),
    /// which alignment checks are made against.
    let baseSlot: UInt64
    let totalSlots: Int
    let areaCount: Int
    let areaSegments: Int
    /// Leaves per area tree: `areaSegments` rounded up to a power of two.
    let treeLeaves: Int
    let trees: UnsafeMutablePointer<UInt8>
    let lists: UnsafeMutablePointer<UInt16>

    /// Where the counters start in an area's block (after the lock word).
    static let headerOffset = 16
    /// Where the run cache starts in an area's block (the cache line after the header,
    /// which other CPUs write under the lock): its count, claim and drain-request words.
    static let runCacheOffset = 64
    /// Where the run cache's entries start in an area's block.
    static let runCacheEntriesOffset = 96

    /// Allocates and initializes the metadata for `totalSlots` slots (a multiple of
    /// `128 * areaCount`) in `areaCount` areas.
    init(kind: SWIOTLBAllocatorKind, baseSlot: UInt64, totalSlots: Int, areaCount: Int) {
        self.kind = kind
        self.baseSlot = baseSlot
        self.totalSlots = totalSlots
        self.areaCount = areaCount
        areaSlots = totalSlots / areaCount
        areaSegments = areaSlots / SWIOTLB.segmentSlots
        areaShift = areaSlots.nonzeroBitCount == 1 ? areaSlots.trailingZeroBitCount : -1
        var leaves = 1
        while leaves < areaSegments { leaves <<= 1 }
        treeLeaves = leaves
        let cacheBytes = kind == .fast ? Self.runCacheCapacity * MemoryLayout<UInt32>.stride : 0
        headerStride = (Self.runCacheEntriesOffset + cacheBytes + 127) & ~127

        headers = .allocate(byteCount: headerStride * areaCount, alignment: 128)
        for a in 0..<areaCount {
            (headers + a * headerStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
            (headers + a * headerStride + Self.headerOffset).bindMemory(to: AreaHeader.self, capacity: 1)
                .initialize(to: AreaHeader(used: 0, highWater: 0, cursor: 0, failures: 0))
            if cacheBytes > 0 {
                let block = headers + a * headerStride
                // count, claim, drain request, spare
                let words = (block + Self.runCacheOffset).bindMemory(to: Atomic<Int>.self, capacity: 4)
                for i in 0..<4 { (words + i).initialize(to: Atomic(0)) }
                let entries = (block + Self.runCacheEntriesOffset).bindMemory(
                    to: Atomic<UInt32>.self, capacity: Self.runCacheCapacity)
                for i in 0..<Self.runCacheCapacity { (entries + i).initialize(to: Atomic(0)) }
            }
        }
        let segmentCount = totalSlots / SWIOTLB.segmentSlots
        segments = .allocate(capacity: segmentCount)
        segments.initialize(repeating: SegmentMasks(free: SegmentBits.all), count: segmentCount)
        trees = .allocate(capacity: areaCount * 2 * leaves)
        trees.initialize(repeating: 0, count: areaCount * 2 * leaves)
        for a in 0..<areaCount {
            let t = trees + a * 2 * leaves
            for s in 0..<areaSegments { t[leaves + s] = UInt8(SWIOTLB.segmentSlots) }
            var node = leaves - 1
            while node >= 1 {
                t[node] = max(t[2 * node], t[2 * node + 1])
                node -= 1
            }
        }
        // Slot list values start at 128, 127, ..., 1 in every segment (§2.2).
        let listCount = kind == .reference ? totalSlots : 1
        lists = .allocate(capacity: listCount)
        for i in 0..<listCount { (lists + i).initialize(to: UInt16(SWIOTLB.segmentSlots - (i & (SWIOTLB.segmentSlots - 1)))) }
        records = .allocate(capacity: totalSlots)
        records.initialize(repeating: .empty, count: totalSlots)
    }

    deinit {
        headers.deallocate()
        segments.deallocate()
        trees.deallocate()
        lists.deallocate()
        records.deallocate()
    }

    // MARK: Areas and locks

    @inline(__always)
    func header(_ area: Int) -> UnsafeMutablePointer<AreaHeader> {
        (headers + (area &* headerStride &+ Self.headerOffset)).assumingMemoryBound(to: AreaHeader.self)
    }

    @inline(__always)
    func lockWord(_ area: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (headers + area &* headerStride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Takes `area->lock`: a test-and-set spin lock (Linux's is a spinlock too).
    /// Critical sections are a few dozen instructions and never copy data, and each
    /// pair costs one atomic exchange and one plain store: about 5 ns uncontended on
    /// this machine kind, against 15–18 ns for a glibc mutex pair (two locked
    /// instructions and a call each way), which was most of the bookkeeping of a map
    /// plus unmap (issue 18's profile). A waiter spins reading, then yields the CPU,
    /// so a preempted holder is not spun against for long. The thread sanitizer sees
    /// the acquire and release.
    @inline(__always)
    func lock(_ area: Int) {
        let word = lockWord(area)
        if word.pointee.exchange(1, ordering: .acquiring) != 0 { lockContended(word) }
    }

    @inline(never)
    func lockContended(_ word: UnsafeMutablePointer<Atomic<Int>>) {
        var spins = 0
        repeat {
            while word.pointee.load(ordering: .relaxed) != 0 {
                spins &+= 1
                if spins >= 64 {
                    sched_yield()
                    spins = 0
                }
            }
        } while word.pointee.exchange(1, ordering: .acquiring) != 0
    }

    /// Releases `area->lock`.
    @inline(__always)
    func unlock(_ area: Int) { lockWord(area).pointee.store(0, ordering: .releasing) }

    /// The area holding pool slot `slot`.
    @inline(__always)
    func area(ofSlot slot: Int) -> Int { areaShift >= 0 ? slot &>> areaShift : slot / areaSlots }

    // MARK: Allocation, dispatched on the kind (area lock held)

    /// Finds and takes `request.slots` slots in `area` and counts them; returns the pool
    /// slot of the first (padding included), or `nil`. A cache claimed by a
    /// ``SWIOTLBCPU`` is left to its owner.
    @inline(__always)
    func allocate(area: Int, _ request: SlotRequest) -> Int? {
        let start: Int?
        switch kind {
        case .fast:
            let cacheIsMine = !isClaimed(area)
            start =
                (cacheIsMine ? cachedAllocate(area: area, request) : nil)
                ?? fastAllocateOrSpill(area: area, request, spill: cacheIsMine)
        case .reference: start = referenceAllocate(area: area, request)
        }
        if start != nil { countTaken(area: area, slots: request.slots) }
        return start
    }

    /// Counts `slots` taken from `area`'s free space: the area's use and peak, and the
    /// pool-wide counters (area lock held).
    @inline(__always)
    func countTaken(area: Int, slots: Int) {
        let h = header(area)
        let used = h.pointee.used &+ slots
        h.pointee.used = used
        if used > h.pointee.highWater { h.pointee.highWater = used }
        counters.add(slots)
    }

    /// Uncounts `slots` returned to `area`'s free space (area lock held).
    @inline(__always)
    func countReturned(area: Int, slots: Int) {
        header(area).pointee.used &-= slots
        counters.remove(slots)
    }

    /// Returns `count` slots from pool slot `start` to the free state of `area` and
    /// uncounts them (to the bitmap, when a ``SWIOTLBCPU`` owns the area's cache).
    @inline(__always)
    func free(area: Int, start: Int, count: Int) {
        switch kind {
        case .fast:
            if isClaimed(area) { fastFreeOutOfLine(area: area, start: start, count: count) } else {
                cacheFree(area: area, start: start, count: count)
            }
        case .reference: referenceFree(start: start, count: count)
        }
        countReturned(area: area, slots: count)
    }

    /// Whether pool slot `slot` is allocated (padding included).
    func isAllocated(_ slot: Int) -> Bool {
        switch kind {
        case .fast: (segments[slot >> 7].free | cachedSlots(segment: slot >> 7)) & (UInt128(1) &<< (slot & 127)) == 0
        case .reference: lists[slot] == 0
        }
    }

    /// The longest run of free slots in `area`.
    func largestFreeRun(area: Int) -> Int {
        var best = 0
        let firstSlot = area * areaSlots
        switch kind {
        case .fast:
            for s in 0..<areaSegments {
                let masks = segments[(firstSlot >> 7) + s]
                best = max(best, SegmentBits.longestRun(masks.free | cachedSlots(segment: (firstSlot >> 7) + s)))
            }
        case .reference:
            for i in firstSlot..<(firstSlot + areaSlots) { best = max(best, Int(lists[i])) }
        }
        return best
    }
}
