/// The fast allocator's per-area cache of freed slot runs (issue 18): an unmap pushes
/// its run, and a map of the same slot count pops the most recently freed one that
/// fits its alignment, so the common map under a steady queue of I/O is a pop: no bit
/// search, no tree update, and the slots it returns are the cache-hot ones the last
/// unmap just released. Everything happens under the area's lock, as for the bitmap.
///
/// Cached runs are free for every count and report (`isAllocated`, the largest free
/// run, `used`), but stay clear in the segment's `free` mask; the reports, which are
/// rare, find them by scanning the area's cache (`cachedSlots(segment:)`), so that a
/// push or a pop touches nothing but the cache. A map that finds no room in the bitmap spills the area's cache
/// back to the bitmap (merging the runs) and searches again, so a request fails only
/// when the area truly has no room, as without the cache. The reference allocator has
/// no cache: it stays exactly Linux's.
///
/// Each entry packs a run as `start << 8 | count` (start: pool slot below 2^24, count
/// 1 ... 128).
extension SlotTable {
    /// Runs cached per area.
    static let runCacheCapacity = 64
    /// How many of the most recent entries a map looks at.
    static let runCacheProbe = 4

    @inline(__always)
    func cacheBase(_ area: Int) -> UnsafeMutablePointer<UInt32> { runCache + area &* Self.runCacheCapacity }

    /// Pops a cached run of exactly `r.slots` slots that satisfies the request's
    /// alignment (no boundary constraint), or `nil`.
    @inline(__always)
    func cachedAllocate(area: Int, _ r: SlotRequest) -> Int? {
        let h = header(area)
        let count = h.pointee.cachedRuns
        guard count > 0, r.boundaryMask == .max else { return nil }
        let cache = cacheBase(area)
        let want = UInt32(truncatingIfNeeded: r.slots)
        var i = count &- 1
        let last = max(0, count &- Self.runCacheProbe)
        while i >= last {
            let entry = cache[i]
            if entry & 0xFF == want {
                let start = Int(entry &>> 8)
                if r.period == 1 || (baseSlot &+ UInt64(start) &- r.residue) & (r.period &- 1) == 0 {
                    cache[i] = cache[count &- 1]
                    h.pointee.cachedRuns = count &- 1
                    return start
                }
            }
            i &-= 1
        }
        return nil
    }

    /// The bitmap search; when it finds nothing and the area has cached runs, spills
    /// them and searches again.
    @inline(__always)
    func fastAllocateOrSpill(area: Int, _ r: SlotRequest) -> Int? {
        if let start = fastAllocate(area: area, r) { return start }
        guard header(area).pointee.cachedRuns > 0 else { return nil }
        spillRunCache(area: area)
        return fastAllocate(area: area, r)
    }

    /// Frees a run into the area's cache, or straight to the bitmap when the cache is full.
    @inline(__always)
    func cacheFree(area: Int, start: Int, count n: Int) {
        let h = header(area)
        let cached = h.pointee.cachedRuns
        guard cached < Self.runCacheCapacity, start < 1 << 24 else {
            fastFree(area: area, start: start, count: n)
            return
        }
        cacheBase(area)[cached] = UInt32(truncatingIfNeeded: start &<< 8 | n)
        h.pointee.cachedRuns = cached &+ 1
    }

    /// Returns every cached run of `area` to the bitmap (merging as a free does).
    func spillRunCache(area: Int) {
        let h = header(area)
        let cache = cacheBase(area)
        for i in 0..<h.pointee.cachedRuns {
            let start = Int(cache[i] >> 8)
            let n = Int(cache[i] & 0xFF)
            fastFree(area: area, start: start, count: n)
        }
        h.pointee.cachedRuns = 0
    }

    /// The slots of segment `segment` (a pool segment index) held in its area's run
    /// cache (area lock held).
    func cachedSlots(segment: Int) -> UInt128 {
        guard kind == .fast else { return 0 }
        let area = self.area(ofSlot: segment &<< 7)
        let cache = cacheBase(area)
        var mask: UInt128 = 0
        for i in 0..<header(area).pointee.cachedRuns where Int(cache[i] >> 15) == segment {
            mask |= SegmentBits.run(Int((cache[i] >> 8) & 127), Int(cache[i] & 0xFF))
        }
        return mask
    }
}
