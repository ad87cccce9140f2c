/// The fast allocator: first fit over per-segment free bitmaps.
///
/// Each area keeps a max tree over its segments whose leaves are the segments'
/// longest free runs, kept exact: a free raises a leaf to the merged run; an
/// allocation lowers it only when it cut a longest run (recounted then, or computed
/// directly for a segment that was entirely free). A search therefore goes straight
/// to the lowest segment that can hold the request, however full the pool is. The
/// header's cursor is the lowest segment that may have a free slot. Picking the lowest
/// fitting run makes a map-unmap loop reuse the same, cache-hot slots, where Linux's
/// next fit walks the whole pool.
extension SlotTable {
    @inline(__always)
    func tree(_ area: Int) -> UnsafeMutablePointer<UInt8> { trees + area &* 2 &* treeLeaves }

    /// Sets a leaf and fixes its ancestors (stops as soon as one is unchanged).
    func setLeaf(_ tree: UnsafeMutablePointer<UInt8>, _ segment: Int, _ value: Int) {
        var node = treeLeaves + segment
        tree[node] = UInt8(value)
        node >>= 1
        while node >= 1 {
            let m = max(tree[2 * node], tree[2 * node + 1])
            if tree[node] == m { break }
            tree[node] = m
            node >>= 1
        }
    }

    /// The lowest segment at or after `start` whose bound is at least `need`.
    @inline(__always)
    func findSegment(_ tree: UnsafeMutablePointer<UInt8>, from start: Int, atLeast need: Int) -> Int? {
        guard start < areaSegments else { return nil }
        let n = UInt8(need)
        var node = treeLeaves + start
        if tree[node] >= n { return start }
        while true {
            if node == 1 { return nil }
            if node & 1 == 0 && tree[node + 1] >= n {
                node += 1
                break
            }
            node >>= 1
        }
        while node < treeLeaves {
            node <<= 1
            if tree[node] < n { node += 1 }
        }
        return node - treeLeaves
    }

    /// Slots of a segment (absolute first slot `first`) where a run may start under
    /// the request's alignment (`alloc_align_mask` and `min_align_mask` together).
    @inline(__always)
    func alignmentCandidates(_ r: SlotRequest, firstSlot first: UInt64) -> UInt128 {
        let phase = (r.residue &- first) & (r.period &- 1)
        if r.period <= UInt64(SWIOTLB.segmentSlots) { return SegmentBits.every(Int(r.period), phase: Int(phase)) }
        return phase < UInt64(SWIOTLB.segmentSlots) ? UInt128(1) << Int(phase) : 0
    }

    /// Slots of a segment where a run of `r.slots` starts without crossing the
    /// device's segment boundary (`iommu_is_span_boundary()`).
    func boundaryCandidates(_ r: SlotRequest, firstSlot first: UInt64) -> UInt128 {
        let size = r.boundarySlots
        let distance = ((first | (size &- 1)) &+ 1) &- first  // to the next multiple of size
        var allowed = SegmentBits.all
        var b = distance
        while b < UInt64(SWIOTLB.segmentSlots) {
            let boundary = Int(b)
            let low = max(0, boundary - r.slots + 1)
            if boundary > low { allowed &= ~SegmentBits.run(low, boundary - low) }
            b &+= size
        }
        return allowed
    }

    /// Whether the request could be placed in this pool if it were empty; if not, the
    /// smallest span (in slots, offset into the segment included) it would need.
    /// Linux reports such requests as "buffer is full"; the pool reports them as too
    /// large for the device's alignment (e.g. 256 KiB with NVMe's `min_align_mask`).
    func emptyPoolShortfall(_ r: SlotRequest) -> Int? {
        let boundaryMatters = r.boundarySlots < baseSlot &+ UInt64(totalSlots)
        let segmentCount = totalSlots / SWIOTLB.segmentSlots
        let phases = r.period <= UInt64(SWIOTLB.segmentSlots) ? 1 : Int(min(r.period / 128, UInt64(segmentCount)))
        let checked = boundaryMatters ? segmentCount : min(segmentCount, phases)
        var smallest = Int.max
        for k in 0..<checked {
            let first = baseSlot &+ UInt64(k &<< 7)
            var candidates = alignmentCandidates(r, firstSlot: first)
            if boundaryMatters { candidates &= boundaryCandidates(r, firstSlot: first) }
            guard candidates != 0 else { continue }
            if SegmentBits.runStarts(SegmentBits.all, length: r.slots) & candidates != 0 { return nil }
            smallest = min(smallest, candidates.trailingZeroBitCount + r.slots)
        }
        return smallest == Int.max ? r.slots : smallest
    }

    /// First fit in `area`; returns the pool slot of the run's start. The common case,
    /// a fit in the lowest non-full segment, is handled inline.
    @inline(__always)
    func fastAllocate(area: Int, _ r: SlotRequest) -> Int? {
        let s = header(area).pointee.cursor
        if s < areaSegments && r.boundaryMask == .max {
            let index = area &* areaSegments &+ s
            let segment = segments + index
            let free = segment.pointee.free
            var candidates = SegmentBits.runStarts(free, length: r.slots)
            if r.period != 1 && candidates != 0 {
                candidates &= alignmentCandidates(r, firstSlot: baseSlot &+ UInt64(index &<< 7))
            }
            if candidates != 0 {
                let p = candidates.trailingZeroBitCount
                take(area: area, segment: s, free: free, at: p, count: r.slots)
                return (index &<< 7) &+ p
            }
        }
        return fastAllocateSearching(area: area, r)
    }

    /// Marks `count` slots at `p` of segment `s` of `area` allocated and keeps the
    /// segment's leaf exact. `free` is the segment's free mask before.
    @inline(__always)
    func take(area: Int, segment s: Int, free: UInt128, at p: Int, count n: Int) {
        let segment = segments + (area &* areaSegments &+ s)
        let remaining = free & ~SegmentBits.run(p, n)
        segment.pointee.free = remaining
        let t = tree(area)
        let bound = Int(t[treeLeaves &+ s])
        let longest: Int
        if free == SegmentBits.all {
            longest = max(p, SWIOTLB.segmentSlots &- p &- n)
        } else {
            // The free run that held p: if it was not a longest one, the longest is
            // elsewhere and unchanged.
            let right = (~(free >> (p &+ n))).trailingZeroBitCount
            let left = p == 0 ? 0 : (~(free &<< (128 &- p))).leadingZeroBitCount
            longest = left &+ n &+ right < bound ? bound : SegmentBits.longestRun(remaining)
        }
        if longest != bound { setLeaf(t, s, longest) }
    }

    /// First fit in `area` through the tree, for when the cursor segment has no fit.
    @inline(never)
    func fastAllocateSearching(area: Int, _ r: SlotRequest) -> Int? {
        let h = header(area)
        let n = r.slots
        guard n <= areaSlots &- h.pointee.used else { return nil }
        let t = tree(area)
        let firstSegment = area &* areaSegments
        var s = h.pointee.cursor
        while s < areaSegments && segments[firstSegment &+ s].free == 0 {
            if t[treeLeaves &+ s] != 0 { setLeaf(t, s, 0) }
            s = findSegment(t, from: s + 1, atLeast: 1) ?? areaSegments
        }
        h.pointee.cursor = s
        let boundaryMatters = r.boundarySlots < baseSlot &+ UInt64(totalSlots)
        let constrained = r.period != 1 || boundaryMatters
        guard let first = findSegment(t, from: s, atLeast: n) else { return nil }
        s = first
        while true {
            let segment = segments + (firstSegment &+ s)
            let free = segment.pointee.free
            let runs = SegmentBits.runStarts(free, length: n)
            var candidates = runs
            if constrained && runs != 0 {
                let first = baseSlot &+ UInt64((firstSegment &+ s) &<< 7)
                candidates &= alignmentCandidates(r, firstSlot: first)
                if boundaryMatters { candidates &= boundaryCandidates(r, firstSlot: first) }
            }
            if candidates != 0 {
                let p = candidates.trailingZeroBitCount
                take(area: area, segment: s, free: free, at: p, count: n)
                return ((firstSegment &+ s) &<< 7) &+ p
            }
            // Leaves are exact, so only alignment (or a boundary) can have failed here;
            // a leaf found too high anyway is corrected rather than trusted.
            if runs == 0 && Int(t[treeLeaves &+ s]) >= n { setLeaf(t, s, SegmentBits.longestRun(free)) }
            guard let next = findSegment(t, from: s + 1, atLeast: n) else { return nil }
            s = next
        }
    }

    /// Frees a run and raises its segment's leaf to the merged free run if that is longer.
    func fastFree(area: Int, start: Int, count n: Int) {
        let p = start & 127
        let segment = segments + (start &>> 7)
        let free = segment.pointee.free | SegmentBits.run(p, n)
        segment.pointee.free = free
        let s = (start &- area &* areaSlots) &>> 7
        let t = tree(area)
        let bound = Int(t[treeLeaves &+ s])
        let merged: Int
        if free == SegmentBits.all {
            merged = SWIOTLB.segmentSlots
        } else {
            let right = (~(free >> (p &+ n))).trailingZeroBitCount
            let left = p == 0 ? 0 : (~(free &<< (128 &- p))).leadingZeroBitCount
            merged = left &+ n &+ right
        }
        if merged > bound { setLeaf(t, s, merged) }
        let h = header(area)
        if s < h.pointee.cursor { h.pointee.cursor = s }
    }
}
