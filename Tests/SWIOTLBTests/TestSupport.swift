import Testing

@testable import SWIOTLB

/// Deterministic randomness for the tests (SplitMix64).
struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A pool over host memory with room for original buffers after it.
struct PoolFixture {
    let memory: HostBounceMemory
    let pool: SWIOTLBPool
    /// First address after the pool, where tests put original buffers.
    let scratch: UInt64

    init(
        slots: Int = 512, areas: Int = 1, allocator: SWIOTLBAllocatorKind = .fast, base: UInt64 = 0,
        pageSize: Int = SWIOTLB.defaultPageSize, scratchBytes: Int = 1 << 20,
        warn: (@Sendable (String) -> Void)? = nil
    ) throws {
        let poolBytes = slots * SWIOTLB.slotSize
        memory = try HostBounceMemory(size: Int(base) + poolBytes + scratchBytes)
        pool = try SWIOTLBPool(
            region: BounceRegion(base: base, size: poolBytes), areas: areas, memory: memory, allocator: allocator,
            pageSize: pageSize, warn: warn)
        scratch = base + UInt64(poolBytes)
    }

    /// A recognisable byte for position `i` of pattern `tag`.
    static func byte(_ tag: UInt8, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 31 &+ Int(tag) &* 7 &+ (i >> 8)) }

    func fill(_ address: UInt64, count: Int, tag: UInt8) throws {
        try memory.write((0..<count).map { Self.byte(tag, $0) }, at: address)
    }

    func expect(_ address: UInt64, count: Int, tag: UInt8, from offset: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try memory.read(at: address, count: count)
        let expected = (offset..<(offset + count)).map { Self.byte(tag, $0) }
        #expect(bytes == expected, sourceLocation: sourceLocation)
    }
}

/// Linux's feasibility rules, checked slot by slot over an occupancy array: the
/// oracle both allocators are compared with.
struct SearchOracle {
    /// `occupied[i]`: slot `i` of the pool (one area) is allocated.
    private(set) var occupied: [Bool]
    let baseSlot: UInt64
    /// `runs[i]`: free slots from `i` to the end of its segment or the next allocated
    /// slot (what Linux's `list[i]` must hold), recomputed on every change.
    private(set) var runs: [Int] = []

    init(occupied: [Bool], baseSlot: UInt64) {
        self.occupied = occupied
        self.baseSlot = baseSlot
        recount()
    }

    private mutating func recount() {
        runs = Array(repeating: 0, count: occupied.count)
        var next = 0
        for i in stride(from: occupied.count - 1, through: 0, by: -1) {
            if (i + 1) % SWIOTLB.segmentSlots == 0 { next = 0 }
            next = occupied[i] ? 0 : next + 1
            runs[i] = next
        }
    }

    /// `runs[i]`.
    func freeRun(_ i: Int) -> Int { runs[i] }

    /// Whether a run of the request may start at `slot`.
    func feasible(_ slot: Int, _ r: SlotRequest) -> Bool {
        let tableAddress = (baseSlot << 11) & r.boundaryMask
        let tlb = tableAddress &+ (UInt64(slot) << 11)
        if tlb & r.allocAlignMask != 0 { return false }
        if r.original != 0 && (tlb & r.iotlbAlignMask) != (r.original & r.iotlbAlignMask) { return false }
        let shift = (tableAddress + 2047) >> 11
        if SlotTable.spansBoundary(slot, r.slots, shift: shift, boundarySize: r.boundarySlots) { return false }
        return freeRun(slot) >= r.slots
    }

    /// Every feasible start, lowest first.
    func feasibleStarts(_ r: SlotRequest) -> [Int] { (0..<occupied.count).filter { feasible($0, r) } }

    mutating func take(_ start: Int, _ count: Int) {
        for i in start..<(start + count) { occupied[i] = true }
        recount()
    }

    mutating func release(_ start: Int, _ count: Int) {
        for i in start..<(start + count) { occupied[i] = false }
        recount()
    }
}

extension SlotTable {
    /// Marks a run allocated without searching, as the allocator's own found-path would
    /// (test set-up of identical states in both allocators).
    func occupy(area: Int, start: Int, count: Int) {
        switch kind {
        case .fast:
            let s = (start - area * areaSlots) >> 7
            take(area: area, segment: s, free: segments[start >> 7].free, at: start & 127, count: count)
        case .reference:
            for i in start..<(start + count) { lists[i] = 0 }
            var c: UInt16 = 0
            var i = start - 1
            while (i & 127) != 127 && lists[i] != 0 {
                c += 1
                lists[i] = c
                i -= 1
            }
        }
        header(area).pointee.used += count
    }

    /// Which slots are allocated, for invariant checks.
    var occupancy: [Bool] { (0..<totalSlots).map { isAllocated($0) } }

    /// Linux's `list[]` invariant (reference) or the fast allocator's invariants (tree
    /// leaves are the exact longest free runs; every segment below the cursor is full).
    /// Returns a description of the first violation, or `nil`.
    func invariantViolation() -> String? {
        let oracle = SearchOracle(occupied: occupancy, baseSlot: baseSlot)
        switch kind {
        case .reference:
            for i in 0..<totalSlots where Int(lists[i]) != oracle.freeRun(i) {
                return "list[\(i)] = \(lists[i]), expected \(oracle.freeRun(i))"
            }
        case .fast:
            for a in 0..<areaCount {
                let t = tree(a)
                for s in 0..<areaSegments {
                    let exact = SegmentBits.longestRun(segments[a * areaSegments + s].free)
                    if Int(t[treeLeaves + s]) != exact { return "area \(a) segment \(s): leaf \(t[treeLeaves + s]) != \(exact)" }
                }
                var node = treeLeaves - 1
                while node >= 1 {
                    if t[node] != max(t[2 * node], t[2 * node + 1]) { return "area \(a) tree node \(node) is not the max" }
                    node -= 1
                }
                let cursor = header(a).pointee.cursor
                for s in 0..<min(cursor, areaSegments) where segments[a * areaSegments + s].free != 0 {
                    return "area \(a): segment \(s) below the cursor \(cursor) has free slots"
                }
            }
        }
        var used = 0
        for a in 0..<areaCount { used += header(a).pointee.used }
        // Runs in a claimed CPU cache are free to reports but still counted as used.
        let counted = occupancy.filter { $0 }.count + slotsInClaimedCaches()
        if used != counted { return "used counters say \(used), occupancy says \(counted)" }
        return nil
    }
}
