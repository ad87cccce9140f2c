/// Replays a recorded request stream against SVMKit's pool (or any
/// ``SWIOTLBReplayTarget``) and records, per op, the bounce address or the failure
/// and the used count: the Swift half of the differential check against
/// `Scripts/linux-oracle replay`, which runs the same trace through
/// `kernel/dma/swiotlb.c: swiotlb_tbl_map_single` (6.12) compiled on the host.
///
/// ```swift
/// let trace = try SWIOTLBReplayTrace(json: bytes)
/// let report = try SWIOTLBReplayer.replay(trace, allocator: .reference)
/// print(report.json)
/// ```
public enum SWIOTLBReplayer {
    /// Replays every scenario on a fresh ``SWIOTLBPool`` with `allocator`; with
    /// ``SWIOTLBAllocatorKind/linux61`` a map on which 6.1 would spin for ever is
    /// `"hang": true`, as in ``replayLinux61(_:)``.
    ///
    /// - Throws: ``SWIOTLBError/invalidRegion(_:reason:)`` if a pool cannot be built
    ///   (the trace reader already refuses such pools).
    public static func replay(
        _ trace: SWIOTLBReplayTrace, allocator: SWIOTLBAllocatorKind
    ) throws(SWIOTLBError) -> SWIOTLBReplayReport {
        var scenarios: [SWIOTLBReplayReport.Scenario] = []
        for scenario in trace.scenarios {
            let pool = try makePool(scenario.pool, allocator: allocator)
            scenarios.append(replay(scenario, on: SWIOTLBPoolReplayTarget(pool)))
        }
        return SWIOTLBReplayReport(scenarios: scenarios)
    }

    /// Replays `trace` through Linux 6.1's search (``SWIOTLBLinux61Pool``), one fresh
    /// pool per scenario; a map on which 6.1 would spin forever is `"hang": true`.
    public static func replayLinux61(_ trace: SWIOTLBReplayTrace) -> SWIOTLBReplayReport {
        SWIOTLBReplayReport(scenarios: trace.scenarios.map { replay($0, on: SWIOTLBLinux61Pool($0.pool)) })
    }

    /// A pool laid out as `pool` describes, with no memory behind it (replays do not copy).
    public static func makePool(
        _ pool: SWIOTLBReplayPool, allocator: SWIOTLBAllocatorKind
    ) throws(SWIOTLBError) -> SWIOTLBPool {
        try SWIOTLBPool(
            region: BounceRegion(base: pool.start, size: pool.size), areas: pool.nareas, memory: NoBounceMemory(),
            allocator: allocator, pageSize: pool.pageSize)
    }

    /// Replays one scenario on `target`. An unmap of a map that failed is a result
    /// with `ok: false`; ids follow the trace reader's rules.
    public static func replay(
        _ scenario: SWIOTLBReplayScenario, on target: some SWIOTLBReplayTarget
    ) -> SWIOTLBReplayReport.Scenario {
        var live: [UInt64: (address: UInt64?, size: Int)] = [:]
        var results: [SWIOTLBReplayResult] = []
        results.reserveCapacity(scenario.ops.count)
        for (index, op) in scenario.ops.enumerated() {
            switch op {
            case .map(let request):
                let address = target.replayMap(request)
                live[request.id] = (address, request.size)
                var result = SWIOTLBReplayResult(
                    index: index, isMap: true, id: request.id, ok: address != nil, tlbAddress: address,
                    usedAfter: target.replayUsedSlots)
                result.hang = target.replayLastMapHung
                results.append(result)
            case .unmap(let id):
                let entry = live.removeValue(forKey: id)
                if let entry, let address = entry.address { target.replayUnmap(address: address, size: entry.size) }
                results.append(
                    SWIOTLBReplayResult(
                        index: index, isMap: false, id: id, ok: entry?.address != nil, tlbAddress: nil,
                        usedAfter: target.replayUsedSlots))
            }
        }
        return SWIOTLBReplayReport.Scenario(name: scenario.name, results: results)
    }
}
