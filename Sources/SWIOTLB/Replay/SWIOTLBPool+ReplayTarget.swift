extension SWIOTLBPool: SWIOTLBReplayTarget {
    /// Allocates and records the mapping without copying (a replay has no data);
    /// every refusal (``SWIOTLBError/exhausted(_:)``, ``SWIOTLBError/mappingTooLarge(size:allocationSize:maximum:)``)
    /// is `nil`, as `DMA_MAPPING_ERROR` is in Linux. A ``SWIOTLBAllocatorKind/linux61``
    /// pool's endless scan is `nil` here too; ``SWIOTLBReplayer/replay(_:allocator:)``
    /// reports it as a hang.
    public func replayMap(_ request: SWIOTLBReplayMap) -> UInt64? {
        try? mapSlots(
            original: request.origAddr, size: request.size, attributes: [.noWarn],
            allocAlignMask: request.allocAlignMask, device: request.device, cpu: request.cpu, copyIn: false)
    }

    /// Releases the mapping without copying back.
    public func replayUnmap(address: UInt64, size: Int) {
        try? unmapSlots(address, size: size, copyBack: false)
    }

    /// The sum of the areas' used counts, as `mem_pool_used()` (6.12) sums `area->used`.
    public var replayUsedSlots: Int {
        var used = 0
        for a in 0..<areaCount {
            table.lock(a)
            used += table.header(a).pointee.used
            table.unlock(a)
        }
        return used
    }
}
