/// Finds the smallest pool for a recorded request stream by exhaustive replay: every
/// candidate size from the stream's peak demand up, in steps of one segment per area,
/// is replayed from an empty pool until one has no "buffer is full" failure. No
/// monotonicity is assumed (next fit can fail on a larger pool where a smaller one
/// succeeded), so the first size that works is the smallest.
///
/// The replay allocates slots exactly as a map would (``SWIOTLBPool``'s search,
/// reference or fast) but copies nothing.
public enum SWIOTLBPoolAdvisor {
    /// The largest pool tried, in slots (2 GiB, twice Linux's x86 CoCo cap).
    public static let searchLimitSlots = 1 << 20

    /// Advises a pool size for `scenario`.
    ///
    /// - Parameters:
    ///   - scenario: the recorded stream (its pool gives the start address, page size
    ///     and default area count).
    ///   - areas: the area count of the pools tried; `nil` uses the trace's `nareas`.
    ///   - allocator: the search to replay; ``SWIOTLBAllocatorKind/reference`` answers
    ///     for Linux.
    /// - Throws: ``SWIOTLBError/invalidConfiguration(_:)`` for an area count that is not
    ///   a power of two in 1...4096.
    public static func advise(
        _ scenario: SWIOTLBReplayScenario, areas: Int? = nil, allocator: SWIOTLBAllocatorKind = .reference
    ) throws(SWIOTLBError) -> SWIOTLBPoolAdvice {
        let nareas = areas ?? scenario.pool.nareas
        guard nareas >= 1, nareas <= 4096, nareas.nonzeroBitCount == 1 else {
            throw .invalidConfiguration("area count \(nareas) is not a power of two in 1...4096")
        }
        let demand = peakDemand(scenario)
        let step = SWIOTLB.segmentSlots * nareas
        // Sizes below the alignment bound cannot work (``peakDemand(_:)``): start there.
        // Only for the reference search, whose slot rules the bound is derived from.
        let floor = allocator == .reference ? max(demand.peak, demand.alignedFloor) : demand.peak
        var slots = max(step, (min(floor, searchLimitSlots + 1) + step - 1) / step * step)
        var found: ReplayOutcome?
        while slots <= searchLimitSlots {
            let outcome = replay(scenario, slots: slots, areas: nareas, allocator: allocator, stopAtFirstFailure: true)
            if outcome.failures == 0 {
                found = outcome
                break
            }
            slots += step
        }
        guard var found else {
            return SWIOTLBPoolAdvice(
                scenario: scenario.name, areas: nareas, allocator: allocator, minimumSlots: nil, highWaterSlots: 0,
                peakDemandSlots: demand.peak, freeSlotsAtPeak: 0, largestFreeRunAtPeak: 0,
                impossibleMaps: demand.impossible, swiotlbParameter: nil, roundedSlots: nil, failuresAtRoundedSize: nil)
        }
        found.largestFreeRunAtPeak =
            replay(scenario, slots: slots, areas: nareas, allocator: allocator, captureAt: found.peak)
            .largestFreeRunAtPeak
        // Linux's rounding of swiotlb=<slots>,<areas> (identical in 6.1 and 6.12).
        let configuration = try SWIOTLBConfiguration(slabs: slots, areas: nareas)
        let rounded = configuration.slots
        let roundedFailures =
            rounded == slots
            ? 0 : replay(scenario, slots: rounded, areas: configuration.areas, allocator: allocator).failures
        return SWIOTLBPoolAdvice(
            scenario: scenario.name, areas: nareas, allocator: allocator, minimumSlots: slots,
            highWaterSlots: found.peak, peakDemandSlots: demand.peak, freeSlotsAtPeak: slots - found.peak,
            largestFreeRunAtPeak: found.largestFreeRunAtPeak, impossibleMaps: demand.impossible,
            swiotlbParameter: "\(slots),\(nareas)", roundedSlots: rounded, failuresAtRoundedSize: roundedFailures)
    }

    /// The live slots' peak if every request got exactly its slots, the requests no pool
    /// can hold, and a floor from alignment: runs that must start on the same residue
    /// modulo the same period (``SlotRequest/period``, ``SlotRequest/residue``: the
    /// slot-number bits `swiotlb_search_pool_area()` (6.12) pins) cannot overlap, so `n`
    /// of them live at once, each at least `L` slots, span at least
    /// `(n - 1) * roundup(L, period) + L` slots, and no smaller pool holds them. Without
    /// the floor, a trace of many small 64 KiB-aligned maps (NVMe-like `min_align_mask`
    /// 0xffff) was searched from its raw slot peak, one segment per area at a time, for
    /// minutes.
    static func peakDemand(_ scenario: SWIOTLBReplayScenario) -> (peak: Int, impossible: Int, alignedFloor: Int) {
        let probe = try? SWIOTLBPool(
            region: BounceRegion(base: scenario.pool.start, size: probeSlots << SWIOTLB.slotShift),
            memory: NoBounceMemory(), pageSize: scenario.pool.pageSize)
        var live: [UInt64: (slots: Int, phase: Phase)] = [:]
        var used = 0
        var peak = 0
        var impossible = 0
        var livePerPhase: [Phase: Int] = [:]
        var shortestPerPhase: [Phase: Int] = [:]
        var floor = 0
        for op in scenario.ops {
            switch op {
            case .map(let m):
                guard let request = request(m, pageSize: scenario.pool.pageSize),
                    probe?.table.emptyPoolShortfall(request) == nil
                else {
                    impossible += 1
                    continue
                }
                let phase = Phase(period: request.period, residue: request.residue % max(request.period, 1))
                live[m.id] = (request.slots, phase)
                used += request.slots
                peak = max(peak, used)
                let n = livePerPhase[phase, default: 0] + 1
                livePerPhase[phase] = n
                let shortest = min(shortestPerPhase[phase] ?? request.slots, request.slots)
                shortestPerPhase[phase] = shortest
                floor = max(floor, alignedSpan(count: n, shortest: shortest, period: request.period))
            case .unmap(let id):
                if let entry = live.removeValue(forKey: id) {
                    used -= entry.slots
                    livePerPhase[entry.phase, default: 1] -= 1
                }
            }
        }
        return (peak, impossible, floor)
    }

    /// A start-slot class: runs whose first slot number is `residue` modulo `period`.
    struct Phase: Hashable {
        var period: UInt64
        var residue: UInt64
    }

    /// The fewest slots that hold `count` disjoint runs of at least `shortest` slots
    /// starting in one ``Phase`` of `period`; capped just above the search limit.
    static func alignedSpan(count: Int, shortest: Int, period: UInt64) -> Int {
        let cap = searchLimitSlots + 1
        guard count > 0, shortest > 0, period > 0, period <= UInt64(cap) else { return 0 }
        let p = Int(period)
        let spacing = (shortest + p - 1) / p * p
        guard count - 1 <= cap / spacing else { return cap }
        return min(cap, (count - 1) * spacing + shortest)
    }

    /// The pool size that decides whether a request fits in any pool at all (its
    /// alignment phases and boundaries repeat well within it).
    static let probeSlots = 1 << 16

    static func request(_ m: SWIOTLBReplayMap, pageSize: Int) -> SlotRequest? {
        try? SlotRequest(
            original: m.origAddr, size: m.size, allocAlignMask: m.allocAlignMask, device: m.device, pageSize: pageSize)
    }

    /// What one replay saw.
    struct ReplayOutcome {
        var failures = 0
        var peak = 0
        var largestFreeRunAtPeak = 0
    }

    /// Replays `scenario` on an empty pool of `slots` slots at the trace's start address.
    /// With `captureAt`, stops when use first reaches that many slots and records the
    /// longest free run then (one statistics scan, not one per new peak). With
    /// `stopAtFirstFailure`, stops at the first "buffer is full" (`failures` is then 1):
    /// the search only asks whether a size works, and replaying the rest of a long
    /// trace on a size that already failed made the search quadratic in the trace's
    /// length several times over (a 40,000-op trace of 64 KiB-aligned maps took minutes).
    static func replay(
        _ scenario: SWIOTLBReplayScenario, slots: Int, areas: Int, allocator: SWIOTLBAllocatorKind,
        captureAt: Int? = nil, stopAtFirstFailure: Bool = false
    ) -> ReplayOutcome {
        var outcome = ReplayOutcome()
        guard
            let pool = try? SWIOTLBPool(
                region: BounceRegion(base: scenario.pool.start, size: slots << SWIOTLB.slotShift), areas: areas,
                memory: NoBounceMemory(), allocator: allocator, pageSize: scenario.pool.pageSize)
        else {
            outcome.failures = 1
            return outcome
        }
        var live: [UInt64: (address: UInt64, size: Int)] = [:]
        for op in scenario.ops {
            switch op {
            case .map(let m):
                guard let request = request(m, pageSize: scenario.pool.pageSize) else { continue }
                guard let address = try? pool.place(request, cpu: m.cpu, copyIn: false) else {
                    // A request no pool can hold is not this size's failure.
                    if pool.table.emptyPoolShortfall(request) == nil {
                        outcome.failures += 1
                        if stopAtFirstFailure { return outcome }
                    }
                    continue
                }
                live[m.id] = (address, m.size)
                let used = pool.table.counters.used.load(ordering: .relaxed)
                outcome.peak = max(outcome.peak, used)
                if let captureAt, used >= captureAt {
                    outcome.largestFreeRunAtPeak = pool.statistics.largestFreeRun
                    return outcome
                }
            case .unmap(let id):
                guard let m = live.removeValue(forKey: id) else { continue }
                try? pool.unmapSlots(m.address, size: m.size, copyBack: false)
            }
        }
        return outcome
    }
}

/// Memory for a replay that never copies (every call is refused, and none is made).
final class NoBounceMemory: BounceMemory {
    func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
        throw BounceMemoryError(address: source, count: count, reason: "a replay pool copies nothing")
    }
}
