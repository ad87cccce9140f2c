extension SWIOTLBPool {
    /// Claims CPU `cpu`'s area cache for the calling thread and returns the handle whose
    /// maps and unmaps use it without locks (see ``SWIOTLBCPU``), or `nil` if another
    /// handle holds that area. Runs the area had cached before are returned to its
    /// bitmap first. With the reference allocator the handle has no cache and forwards
    /// every call to the pool.
    public func claimCPU(_ cpu: Int) -> SWIOTLBCPU? {
        let area = cpu & areaMask
        guard allocator == .fast else { return SWIOTLBCPU(pool: self, cpu: cpu, area: area, ownsCache: false) }
        table.lock(area)
        defer { table.unlock(area) }
        guard !table.isClaimed(area) else { return nil }
        // Cached while unclaimed means free and uncounted: back to the bitmap, so that
        // everything in a claimed cache is counted.
        table.spillRunCache(area: area)
        table.drainWord(area).pointee.store(0, ordering: .relaxed)
        table.claimWord(area).pointee.store(1, ordering: .relaxed)
        return SWIOTLBCPU(pool: self, cpu: cpu, area: area, ownsCache: true)
    }

    /// Ends a claim: the cached runs go back to the bitmap and stop being counted.
    func releaseCPU(area: Int) {
        table.lock(area)
        table.countReturned(area: area, slots: table.spillRunCache(area: area))
        table.drainWord(area).pointee.store(0, ordering: .relaxed)
        table.claimWord(area).pointee.store(0, ordering: .relaxed)
        table.unlock(area)
    }

    /// The owner's answer to a drain request: its cached runs go back to the bitmap.
    @inline(never)
    func drainCPU(area: Int) {
        table.lock(area)
        table.countReturned(area: area, slots: table.spillRunCache(area: area))
        table.drainWord(area).pointee.store(0, ordering: .relaxed)
        table.unlock(area)
    }

    /// The owner's cache miss: takes a run from its area's bitmap under the lock (after
    /// returning its cached runs if nothing fits otherwise), counts it and records the
    /// mapping; returns the mapping's first data slot, or `nil` if the area has no room.
    @inline(never)
    func refillCPU(area: Int, _ request: SlotRequest) -> Int? {
        table.lock(area)
        defer { table.unlock(area) }
        var start = table.fastAllocate(area: area, request)
        if start == nil && table.cachedRuns(area: area) > 0 {
            table.countReturned(area: area, slots: table.spillRunCache(area: area))
            start = table.fastAllocate(area: area, request)
        }
        guard let start else { return nil }
        table.countTaken(area: area, slots: request.slots)
        return table.recordMapping(area: area, start: start, request)
    }
}
