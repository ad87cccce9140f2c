#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One area's counters (`struct io_tlb_area` without its lock). Each area has a
/// block of its own (a multiple of 128 bytes, so that areas never share a cache line):
/// its lock word at offset 0, these counters right after it, in the same cache line.
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
    /// Fast allocator: entries in the area's run cache (see `SlotTable+RunCache.swift`).
    var cachedRuns: Int
}

/// Per-segment bitmaps, bit `i` for the segment's slot `i`.
struct SegmentMasks {
    /// Fast allocator: free slots (not counting cached ones).
    var free: UInt128
    /// Unused: keeps the masks of one segment in one 64-byte cache line.
    var padding: UInt128
    /// First data slot of each live mapping.
    var heads: UInt128
    /// First data slot of each unmapped mapping whose record has not been overwritten
    /// since (to tell a double unmap from an unmap of garbage, together with a check
    /// that the mapping's slots are all free).
    var released: UInt128
}

/// What the pool remembers about a mapping, stored at its first data slot
/// (Linux spreads the same facts over `struct io_tlb_slot`: `orig_addr`, `alloc_size`,
/// `pad_slots`).
struct SlotRecord {
    /// `orig_addr` of the first data slot.
    var original: UInt64
    /// The size given to map.
    var mappingSize: UInt32
    /// The bounce address's offset inside its slot (`offset & (IO_TLB_SIZE - 1)`).
    var offset: UInt16
    /// Slots allocated, padding included (`nr_slots(alloc_size)`).
    var slots: UInt8
    /// `pad_slots`: slots in front of the first data slot.
    var padSlots: UInt8
}

/// All of a pool's slot metadata in raw memory: area headers with their locks,
/// segment bitmaps, the fast allocator's max-run trees, the reference allocator's
/// `list[]`, and per-slot mapping records.
///
/// Invariant (the reason for `@unchecked Sendable`): the memory is allocated by `init`
/// and freed only by `deinit`. Everything about area `a` (its header fields other than the lock, its
/// segments' masks, its tree, its `lists` and `records` entries) is read or written
/// only while `lock(a)` is held; the `let` fields never change. Indices are derived from
/// addresses only after the pool has checked that they fall inside the region.
final class SlotTable: @unchecked Sendable {
    let kind: SWIOTLBAllocatorKind
    /// The absolute slot number of the pool's first slot (`pool->start >> IO_TLB_SHIFT`),
    /// which alignment checks are made against.
    let baseSlot: UInt64
    let totalSlots: Int
    let areaCount: Int
    /// `area_nslabs`, a multiple of 128.
    let areaSlots: Int
    let areaSegments: Int
    /// log2(`areaSlots`) when it is a power of two, else -1.
    let areaShift: Int
    /// Leaves per area tree: `areaSegments` rounded up to a power of two.
    let treeLeaves: Int
    let headerStride: Int
    /// Where the counters start in an area's block (after the mutex).
    let headerOffset: Int
    let headers: UnsafeMutableRawPointer
    let segments: UnsafeMutablePointer<SegmentMasks>
    let trees: UnsafeMutablePointer<UInt8>
    let lists: UnsafeMutablePointer<UInt16>
    let records: UnsafeMutablePointer<SlotRecord>
    /// Fast allocator: each area's run cache, `runCacheCapacity` packed runs per area.
    let runCache: UnsafeMutablePointer<UInt32>
    /// Pool-wide `total_used` and `used_hiwater` (atomics, outside the area locks).
    let counters = PoolCounters()

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
        headerOffset = 16
        headerStride = max(128, (headerOffset + MemoryLayout<AreaHeader>.stride + 127) & ~127)

        headers = .allocate(byteCount: headerStride * areaCount, alignment: 128)
        for a in 0..<areaCount {
            (headers + a * headerStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
            (headers + a * headerStride + headerOffset).bindMemory(to: AreaHeader.self, capacity: 1)
                .initialize(to: AreaHeader(used: 0, highWater: 0, cursor: 0, failures: 0, cachedRuns: 0))
        }
        let segmentCount = totalSlots / SWIOTLB.segmentSlots
        segments = .allocate(capacity: segmentCount)
        segments.initialize(repeating: SegmentMasks(free: SegmentBits.all, padding: 0, heads: 0, released: 0), count: segmentCount)
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
        let listCount = kind == .fast ? 1 : totalSlots
        lists = .allocate(capacity: listCount)
        for i in 0..<listCount { (lists + i).initialize(to: UInt16(SWIOTLB.segmentSlots - (i & (SWIOTLB.segmentSlots - 1)))) }
        let cacheEntries = kind == .fast ? areaCount * Self.runCacheCapacity : 1
        runCache = .allocate(capacity: cacheEntries)
        runCache.initialize(repeating: 0, count: cacheEntries)
        records = .allocate(capacity: totalSlots)
        records.initialize(
            repeating: SlotRecord(original: 0, mappingSize: 0, offset: 0, slots: 0, padSlots: 0), count: totalSlots)
    }

    deinit {
        headers.deallocate()
        segments.deallocate()
        trees.deallocate()
        lists.deallocate()
        runCache.deallocate()
        records.deallocate()
    }

    // MARK: Areas and locks

    @inline(__always)
    func header(_ area: Int) -> UnsafeMutablePointer<AreaHeader> {
        (headers + (area &* headerStride &+ headerOffset)).assumingMemoryBound(to: AreaHeader.self)
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
    /// slot of the first (padding included), or `nil`.
    @inline(__always)
    func allocate(area: Int, _ request: SlotRequest) -> Int? {
        let start: Int?
        switch kind {
        case .fast: start = cachedAllocate(area: area, request) ?? fastAllocateOrSpill(area: area, request)
        case .reference: start = referenceAllocate(area: area, request)
        case .linux61:
            if case .found(let slot) = linux61Allocate(area: area, request) { start = slot } else { start = nil }
        }
        if start != nil {
            let h = header(area)
            let used = h.pointee.used &+ request.slots
            h.pointee.used = used
            if used > h.pointee.highWater { h.pointee.highWater = used }
            counters.add(request.slots)
        }
        return start
    }

    /// Returns `count` slots from pool slot `start` to the free state of `area` and
    /// uncounts them.
    @inline(__always)
    func free(area: Int, start: Int, count: Int) {
        switch kind {
        case .fast: cacheFree(area: area, start: start, count: count)
        case .reference, .linux61: referenceFree(start: start, count: count)
        }
        header(area).pointee.used &-= count
        counters.remove(count)
    }

    /// Whether pool slot `slot` is allocated (padding included).
    func isAllocated(_ slot: Int) -> Bool {
        switch kind {
        case .fast: (segments[slot >> 7].free | cachedSlots(segment: slot >> 7)) & (UInt128(1) &<< (slot & 127)) == 0
        case .reference, .linux61: lists[slot] == 0
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
        case .reference, .linux61:
            for i in firstSlot..<(firstSlot + areaSlots) { best = max(best, Int(lists[i])) }
        }
        return best
    }
}
