import Testing

@testable import SWIOTLB

/// Both allocators driven by the same random stream of maps and unmaps through the
/// pool API, over several areas, with the invariants checked after every step.
@Suite("Request streams through both allocators")
struct RequestStreamTests {
    static let allocMasks: [UInt64] = [0, 0, 0, 0xfff, 0x3fff, 0xffff]
    static let minMasks: [UInt64] = [0, 0, 0xfff, 0x7ff, 0x3fff]

    struct Case: Sendable, CustomTestStringConvertible {
        let areas: Int
        let seed: UInt64
        var testDescription: String { "\(areas) areas, seed \(seed)" }
    }

    @Test(arguments: [Case(areas: 1, seed: 1), Case(areas: 2, seed: 2), Case(areas: 4, seed: 3), Case(areas: 8, seed: 4)])
    func stream(_ c: Case) throws {
        let fast = try PoolFixture(slots: 1024, areas: c.areas, allocator: .fast, base: 0x11000, pageSize: 4096)
        let reference = try PoolFixture(slots: 1024, areas: c.areas, allocator: .reference, base: 0x11000, pageSize: 4096)
        var rng = TestRandom(seed: c.seed)
        var live: [[(address: UInt64, original: UInt64, size: Int)]] = [[], []]
        var failures = [0, 0]
        var successes = [0, 0]
        for step in 0..<1500 {
            let unmapping = !live[0].isEmpty && !live[1].isEmpty && rng.next() % 5 < 2
            let pick = Int(rng.next() >> 1)
            let size = rng.next() % 4 == 0 ? 1 + Int(rng.next() % 262_144) : 1 + Int(rng.next() % 20_000)
            let allocMask = Self.allocMasks[Int(rng.next() % UInt64(Self.allocMasks.count))]
            let minMask = Self.minMasks[Int(rng.next() % UInt64(Self.minMasks.count))]
            let original = fast.scratch + (rng.next() % 0x8_0000)
            let cpu = Int(rng.next() % 16)
            for (i, f) in [fast, reference].enumerated() {
                let table = f.pool.table
                if unmapping {
                    let victim = live[i].remove(at: pick % live[i].count)
                    try f.pool.unmap(victim.address, size: victim.size, direction: .toDevice)
                } else {
                    let result: Result<UInt64, SWIOTLBError>
                    do {
                        result = .success(
                            try f.pool.map(
                                original: original, size: size, direction: .toDevice, allocAlignMask: allocMask,
                                device: DMADevice(minAlignMask: minMask), cpu: cpu))
                    } catch {
                        result = .failure(error)
                    }
                    switch result {
                    case .success(let address):
                        successes[i] += 1
                        live[i].append((address, original, size))
                        let m = try #require(f.pool.mapping(containing: address))
                        #expect(m.address == address && m.original == original && m.size == size)
                        #expect(address & minMask == original & minMask, "min_align_mask kept, step \(step)")
                        let start = address - 0x11000 - UInt64(m.padSlots * 2048) - (address & 0x7ff)
                        #expect((start + 0x11000) & allocMask == 0, "alloc_align_mask, step \(step)")
                        let first = Int(start >> 11)
                        #expect(first / 128 == (first + m.slots - 1) / 128, "segment crossed, step \(step)")
                    case .failure(let error):
                        guard case .exhausted(let details) = error else {
                            guard case .mappingTooLarge = error else { throw error }
                            continue
                        }
                        failures[i] += 1
                        #expect(details.startArea == cpu & (c.areas - 1))
                        // A failed search changes no slot and no reference cursor, so the
                        // state now is the state the search saw.
                        let occupancy = table.occupancy
                        let cursors = (0..<table.areaCount).map { table.header($0).pointee.cursor }
                        let oracles = (0..<table.areaCount).map { a in
                            SearchOracle(
                                occupied: Array(occupancy[(a * table.areaSlots)..<((a + 1) * table.areaSlots)]),
                                baseSlot: table.baseSlot + UInt64(a * table.areaSlots))
                        }
                        let request = try SlotRequest(
                            original: original, size: size, allocAlignMask: allocMask,
                            device: DMADevice(minAlignMask: minMask), pageSize: 4096)
                        for a in 0..<table.areaCount {
                            let feasible = oracles[a].feasibleStarts(request)
                            if f.pool.allocator == .fast {
                                #expect(feasible.isEmpty, "fast failed with room in area \(a), step \(step)")
                            } else if UInt64(request.stride) <= request.period {
                                #expect(
                                    feasible.allSatisfy { $0 < cursors[a] && cursors[a] - $0 < request.stride },
                                    "reference failed with room in area \(a), step \(step)")
                            }
                        }
                    }
                }
                if step % 16 == 0, let violation = table.invariantViolation() {
                    Issue.record("\(f.pool.allocator) step \(step): \(violation)")
                    return
                }
            }
        }
        #expect(failures[0] > 0 && failures[1] > 0, "the stream should reach exhaustion")
        for (i, f) in [fast, reference].enumerated() {
            #expect(successes[i] > 300)
            for m in live[i] { try f.pool.unmap(m.address, size: m.size, direction: .toDevice) }
            let stats = f.pool.statistics
            #expect(stats.usedSlots == 0)
            #expect(stats.largestFreeRun == 128)
            #expect(stats.failures == failures[i])
            #expect(f.pool.table.invariantViolation() == nil)
        }
    }
}
