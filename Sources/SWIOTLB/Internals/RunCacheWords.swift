import Synchronization

/// Where one area's run cache lives in its block (see `SlotTable+RunCache.swift`): the
/// count, the drain-request word and the entries. A ``SWIOTLBCPU`` keeps these
/// pointers, so that its pop and push reach the cache in one step from the handle.
/// Valid while the pool's `SlotTable` lives (the handle keeps the pool).
struct RunCacheWords {
    let count: UnsafeMutablePointer<Atomic<Int>>
    let drain: UnsafeMutablePointer<Atomic<Int>>
    let entries: UnsafeMutablePointer<Atomic<UInt32>>

    /// Whether a failed map elsewhere asked the owner to return its runs.
    @inline(__always)
    var drainRequested: Bool { drain.pointee.load(ordering: .relaxed) != 0 }

    /// Pops the most recently cached run if it is `slots` long (a request with slot
    /// alignment only); returns its first slot. The cache's owner only.
    @inline(__always)
    func popTop(slots: Int) -> Int? {
        let n = count.pointee.load(ordering: .relaxed)
        guard n > 0 else { return nil }
        let entry = entries[n &- 1].load(ordering: .relaxed)
        guard Int(entry & 0xFF) == slots else { return nil }
        count.pointee.store(n &- 1, ordering: .relaxed)
        return Int(entry &>> 8)
    }

    /// Pushes a run; `false` when the cache is full (or the run cannot be packed). The
    /// cache's owner only.
    @inline(__always)
    func push(start: Int, count runLength: Int) -> Bool {
        let n = count.pointee.load(ordering: .relaxed)
        guard n < SlotTable.runCacheCapacity, start < 1 << 24 else { return false }
        entries[n].store(UInt32(truncatingIfNeeded: start &<< 8 | runLength), ordering: .relaxed)
        count.pointee.store(n &+ 1, ordering: .relaxed)
        return true
    }
}
