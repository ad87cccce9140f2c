extension SWIOTLBPool {
    /// A snapshot of the counters, taking each area's lock in turn.
    public var statistics: SWIOTLBStatistics {
        var areas: [SWIOTLBStatistics.Area] = []
        areas.reserveCapacity(areaCount)
        for a in 0..<areaCount {
            table.lock(a)
            let h = table.header(a).pointee
            let run = table.largestFreeRun(area: a)
            table.unlock(a)
            areas.append(
                SWIOTLBStatistics.Area(
                    index: a, slots: areaSlots, usedSlots: h.used, highWaterSlots: h.highWater, largestFreeRun: run,
                    failures: h.failures))
        }
        return SWIOTLBStatistics(
            areas: areas, usedSlots: table.counters.used.load(ordering: .relaxed),
            highWaterSlots: table.counters.highWater.load(ordering: .relaxed),
            cachedSlots: table.slotsInClaimedCaches())
    }

    /// Resets the high-water marks, as writing 0 to debugfs `io_tlb_used_hiwater` does:
    /// the pool-wide mark becomes 0 (`kernel/dma/swiotlb.c: io_tlb_hiwater_set (6.12)`),
    /// and each area's own peak becomes its current use.
    public func resetHighWater() {
        table.counters.resetHighWater()
        for a in 0..<areaCount {
            table.lock(a)
            table.header(a).pointee.highWater = table.header(a).pointee.used
            table.unlock(a)
        }
    }

    /// The live mapping that `address` falls in, or `nil`.
    public func mapping(containing address: UInt64) -> SWIOTLBMapping? {
        let byte = address &- base
        guard byte < poolBytes else { return nil }
        let slot = Int(truncatingIfNeeded: byte >> UInt64(SWIOTLB.slotShift))
        let area = table.area(ofSlot: slot)
        table.lock(area)
        defer { table.unlock(area) }
        guard case .live(let head) = table.lookup(slot: slot, byte: byte) else { return nil }
        let record = table.records[head]
        return SWIOTLBMapping(
            address: base &+ table.mappingStart(head), original: record.original, size: Int(record.mappingSize),
            slots: Int(record.slots), padSlots: Int(record.padSlots), area: area)
    }
}
