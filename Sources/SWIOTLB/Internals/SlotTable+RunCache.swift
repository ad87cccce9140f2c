import Synchronization

/// The fast allocator's per-area cache of freed slot runs (issue 18): an unmap pushes
/// its run, and a map of the same slot count pops the most recently freed one that
/// fits its alignment, so the common map under a steady queue of I/O is a pop: no bit
/// search, no tree update, and the slots it returns are the cache-hot ones the last
/// unmap just released.
///
/// Ownership. An unclaimed cache belongs to the area lock's holder. A ``SWIOTLBCPU``
/// handle can claim its area's cache (`claimWord`): from then on only the handle pushes
/// and pops, with plain loads and stores and no lock (Linux's per-CPU data under
/// disabled preemption; here the handle is not `Sendable`, so one thread at a time
/// holds it); maps and unmaps by anyone else in that area go to the bitmap under the
/// lock. The entries and the count are atomics accessed with relaxed ordering (plain
/// moves on x86 and POWER), so reports may read a claimed cache while its owner works.
///
/// Counting. Runs in an unclaimed cache are free: `used` and the pool-wide counters do
/// not include them. Runs in a claimed cache stay counted in `used` (the handle moves
/// them between its mappings and its cache without touching a shared counter): for
/// such a pool "in use" means "held by a mapping or by a CPU's cache", the slots no
/// other CPU can get. ``SWIOTLBStatistics/cachedSlots`` says how many of them are idle
/// in caches.
///
/// Reports count every cached run as free (`isAllocated`, the largest free run). A map
/// that finds no room in the bitmap spills an unclaimed cache (merging the runs) and
/// searches again; a claimed cache is spilled by its owner, on its own refill or when a
/// failed map elsewhere has asked it to (`drainWord`), at its next map or unmap.
/// The reference allocator has no cache: it stays exactly Linux's.
///
/// Each entry packs a run as `start << 8 | count` (start: pool slot below 2^24, count
/// 1 ... 128).
extension SlotTable {
    /// Runs cached per area.
    static let runCacheCapacity = 64
    /// How many of the most recent entries a map looks at.
    static let runCacheProbe = 4

    @inline(__always)
    func cacheWord(_ area: Int, _ index: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (headers + (area &* headerStride &+ Self.runCacheOffset &+ index &* 8))
            .assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// The number of runs in `area`'s cache.
    @inline(__always)
    func cacheCount(_ area: Int) -> UnsafeMutablePointer<Atomic<Int>> { cacheWord(area, 0) }

    /// 1 while a ``SWIOTLBCPU`` owns `area`'s cache (changed only under the area lock).
    @inline(__always)
    func claimWord(_ area: Int) -> UnsafeMutablePointer<Atomic<Int>> { cacheWord(area, 1) }

    /// Set by a map that failed while runs sat in `area`'s claimed cache: the owner
    /// spills them at its next call.
    @inline(__always)
    func drainWord(_ area: Int) -> UnsafeMutablePointer<Atomic<Int>> { cacheWord(area, 2) }

    @inline(__always)
    func cacheBase(_ area: Int) -> UnsafeMutablePointer<Atomic<UInt32>> {
        (headers + (area &* headerStride &+ Self.runCacheEntriesOffset)).assumingMemoryBound(to: Atomic<UInt32>.self)
    }

    /// Whether a ``SWIOTLBCPU`` owns `area`'s cache.
    @inline(__always)
    func isClaimed(_ area: Int) -> Bool { kind == .fast && claimWord(area).pointee.load(ordering: .relaxed) != 0 }

    /// Runs in `area`'s cache now.
    func cachedRuns(area: Int) -> Int { kind == .fast ? cacheCount(area).pointee.load(ordering: .relaxed) : 0 }

    /// Pops a cached run of exactly `r.slots` slots that satisfies the request's
    /// alignment (no boundary constraint), or `nil`. The cache's owner only.
    @inline(__always)
    func cachedAllocate(area: Int, _ r: SlotRequest) -> Int? {
        let countWord = cacheCount(area)
        let count = countWord.pointee.load(ordering: .relaxed)
        guard count > 0, r.boundaryMask == .max else { return nil }
        let cache = cacheBase(area)
        let want = UInt32(truncatingIfNeeded: r.slots)
        var i = count &- 1
        let last = max(0, count &- Self.runCacheProbe)
        while i >= last {
            let entry = cache[i].load(ordering: .relaxed)
            if entry & 0xFF == want {
                let start = Int(entry &>> 8)
                if r.period == 1 || (baseSlot &+ UInt64(start) &- r.residue) & (r.period &- 1) == 0 {
                    cache[i].store(cache[count &- 1].load(ordering: .relaxed), ordering: .relaxed)
                    countWord.pointee.store(count &- 1, ordering: .relaxed)
                    return start
                }
            }
            i &-= 1
        }
        return nil
    }

    /// Pushes a run onto `area`'s cache; `false` when it is full (or the run cannot be
    /// packed). The cache's owner only.
    @inline(__always)
    func cachePush(area: Int, start: Int, count n: Int) -> Bool { runCache(area).push(start: start, count: n) }

    /// `area`'s cache words, for a ``SWIOTLBCPU`` to keep.
    @inline(__always)
    func runCache(_ area: Int) -> RunCacheWords {
        RunCacheWords(count: cacheCount(area), drain: drainWord(area), entries: cacheBase(area))
    }

    /// The bitmap search; when it finds nothing and `spill` allows it (the caller owns
    /// the cache), spills the area's cached runs and searches again. Kept out of line,
    /// so that the cache-served map stays short.
    @inline(never)
    func fastAllocateOrSpill(area: Int, _ r: SlotRequest, spill: Bool) -> Int? {
        if let start = fastAllocate(area: area, r) { return start }
        guard spill, cachedRuns(area: area) > 0 else { return nil }
        spillRunCache(area: area)
        return fastAllocate(area: area, r)
    }

    /// Frees a run into the area's cache, or straight to the bitmap when the cache is
    /// full (area lock held, cache unclaimed).
    @inline(__always)
    func cacheFree(area: Int, start: Int, count n: Int) {
        if !cachePush(area: area, start: start, count: n) { fastFreeOutOfLine(area: area, start: start, count: n) }
    }

    /// `fastFree` behind a call, for the rare unmap that does not go to a cache.
    @inline(never)
    func fastFreeOutOfLine(area: Int, start: Int, count n: Int) { fastFree(area: area, start: start, count: n) }

    /// Returns every cached run of `area` to the bitmap (merging as a free does); area
    /// lock held, by the cache's owner. Returns the slots spilled.
    @discardableResult
    func spillRunCache(area: Int) -> Int {
        let cache = cacheBase(area)
        var slots = 0
        for i in 0..<cacheCount(area).pointee.load(ordering: .relaxed) {
            let entry = cache[i].load(ordering: .relaxed)
            let n = Int(entry & 0xFF)
            fastFree(area: area, start: Int(entry >> 8), count: n)
            slots &+= n
        }
        cacheCount(area).pointee.store(0, ordering: .relaxed)
        return slots
    }

    /// The slots of segment `segment` (a pool segment index) held in its area's run
    /// cache (a snapshot, when a ``SWIOTLBCPU`` owns the cache).
    func cachedSlots(segment: Int) -> UInt128 {
        guard kind == .fast else { return 0 }
        let area = self.area(ofSlot: segment &<< 7)
        let cache = cacheBase(area)
        var mask: UInt128 = 0
        let count = min(cacheCount(area).pointee.load(ordering: .relaxed), Self.runCacheCapacity)
        for i in 0..<count {
            let entry = cache[i].load(ordering: .relaxed)
            if Int(entry >> 15) == segment {
                mask |= SegmentBits.run(Int((entry >> 8) & 127), Int(entry & 0xFF))
            }
        }
        return mask
    }

    /// Slots sitting in claimed caches (counted in `used`), pool-wide (a snapshot).
    func slotsInClaimedCaches() -> Int {
        guard kind == .fast else { return 0 }
        var total = 0
        for a in 0..<areaCount where isClaimed(a) {
            let cache = cacheBase(a)
            let count = min(cacheCount(a).pointee.load(ordering: .relaxed), Self.runCacheCapacity)
            for i in 0..<count { total &+= Int(cache[i].load(ordering: .relaxed) & 0xFF) }
        }
        return total
    }
}
