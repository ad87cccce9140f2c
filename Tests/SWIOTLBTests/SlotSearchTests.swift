import Testing

@testable import SWIOTLB

/// Exhaustive small cases in the style of swift-collections: every alignment mask,
/// every min-align mask and a spread of min-align offsets, over small pools in several
/// occupancy states, checked against an oracle that applies Linux's rules slot by slot
/// (reference/linux-guest-facts.md §2.3), for both allocators.
@Suite("Slot search against Linux's rules")
struct SlotSearchTests {
    static let allocAlignMasks: [UInt64] = [0, 0x3f, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff, 0xffff, 0x1ffff, 0x3ffff]
    static let minAlignMasks: [UInt64] = [0, 0x3f, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff, 0xffff, 0x1ffff]
    static let sizes = [1, 2049, 4096, 12345, 65536, 262144]
    /// Original addresses: 0 (no min-align check) and offsets that set every slot-level
    /// bit up to bit 16, at odd in-slot offsets too.
    static let originals: [UInt64] = [0, 0x100_0000] + [0x7ff, 0x801, 0x1000, 0x1801, 0x3c00, 0x7e01, 0x1_0800].map { 0x100_0000 + $0 }

    /// Occupancy patterns over a 2-segment (256-slot) area: (start, count) runs.
    static let states: [[(Int, Int)]] = [
        [],
        [(0, 128), (128, 100)],
        [(0, 1), (3, 2), (9, 7), (30, 40), (100, 3), (127, 1), (128, 1), (140, 60), (255, 1)],
        Self.randomState(seed: 11),
        Self.randomState(seed: 12),
    ]

    static func randomState(seed: UInt64) -> [(Int, Int)] {
        var rng = TestRandom(seed: seed)
        var runs: [(Int, Int)] = []
        var i = Int(rng.next() % 5)
        while i < 256 {
            let n = 1 + Int(rng.next() % 9)
            let segmentEnd = (i / 128 + 1) * 128
            runs.append((i, min(n, segmentEnd - i)))
            i += min(n, segmentEnd - i) + Int(rng.next() % 12)
        }
        return runs
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let state: Int
        let baseSlot: UInt64
        let pageSize: Int
        var testDescription: String { "state \(state), base slot \(baseSlot), page \(pageSize)" }
    }

    static let cases: [Case] = (0..<states.count).flatMap { s in
        [Case(state: s, baseSlot: 0, pageSize: 1 << 16), Case(state: s, baseSlot: 0x22, pageSize: 1 << 12)]
    }

    @Test("fast = lowest feasible = reference from cursor 0; reference from any cursor follows next fit", arguments: cases)
    func exhaustive(_ c: Case) throws {
        let fast = SlotTable(kind: .fast, baseSlot: c.baseSlot, totalSlots: 256, areaCount: 1)
        let reference = SlotTable(kind: .reference, baseSlot: c.baseSlot, totalSlots: 256, areaCount: 1)
        var oracle = SearchOracle(occupied: Array(repeating: false, count: 256), baseSlot: c.baseSlot)
        for (start, count) in Self.states[c.state] {
            fast.occupy(area: 0, start: start, count: count)
            reference.occupy(area: 0, start: start, count: count)
            oracle.take(start, count)
        }
        #expect(fast.invariantViolation() == nil)
        #expect(reference.invariantViolation() == nil)
        #expect(fast.occupancy == oracle.occupied)
        #expect(reference.occupancy == oracle.occupied)
        var rng = TestRandom(seed: UInt64(c.state) &* 977 &+ c.baseSlot)
        var checked = 0
        var found = 0
        for allocMask in Self.allocAlignMasks {
            for minMask in Self.minAlignMasks {
                for size in Self.sizes {
                    for original in Self.originals {
                        let request: SlotRequest
                        do {
                            request = try SlotRequest(
                                original: original, size: size, allocAlignMask: allocMask,
                                device: DMADevice(minAlignMask: minMask), pageSize: c.pageSize)
                        } catch {
                            guard case .mappingTooLarge = error else {
                                Issue.record("unexpected \(error)")
                                return
                            }
                            #expect(size + Int(original & minMask & (allocMask | 0x7ff)) > SWIOTLB.segmentSize || allocMask >= 0x3ffff)
                            continue
                        }
                        checked += 1
                        let feasible = oracle.feasibleStarts(request)
                        if !feasible.isEmpty { found += 1 }
                        let context = "alloc 0x\(String(allocMask, radix: 16)) min 0x\(String(minMask, radix: 16)) size \(size) orig 0x\(String(original, radix: 16))"

                        // Linux's stride uses min_align_mask even when orig is 0 and the
                        // alignment check then ignores it: the stride can jump over aligned
                        // candidates, so next fit may miss feasible runs in that corner.
                        let strideSkips = UInt64(request.stride) > request.period

                        // Fast: exactly the lowest feasible start.
                        let f = fast.allocate(area: 0, request)
                        #expect(f == feasible.first, "fast, \(context)")
                        if let f {
                            checkPlacement(f, request, baseSlot: c.baseSlot, pageSize: c.pageSize, context)
                            fast.free(area: 0, start: f, count: request.slots)
                            // This test is about the bitmap search: spill the run cache so
                            // the next request searches rather than pops.
                            fast.spillRunCache(area: 0)
                        }

                        // Reference from cursor 0: the same slot.
                        reference.header(0).pointee.cursor = 0
                        let g = reference.allocate(area: 0, request)
                        if strideSkips {
                            #expect(g == nil || feasible.contains(g ?? -1), "reference from 0, \(context)")
                        } else {
                            #expect(g == feasible.first, "reference from 0, \(context)")
                        }
                        if let g { reference.free(area: 0, start: g, count: request.slots) }

                        // Reference from a random cursor: the first feasible start in cyclic
                        // order, or nothing only when every feasible start lies in the
                        // window that the stride overshoot at the wrap skips.
                        let cursor = Int(rng.next() % 256)
                        reference.header(0).pointee.cursor = cursor
                        let h = reference.allocate(area: 0, request)
                        if strideSkips {
                            #expect(h == nil || feasible.contains(h ?? -1), "reference from \(cursor), \(context)")
                            if let h { reference.free(area: 0, start: h, count: request.slots) }
                        } else if let h {
                            let cyclicFirst = feasible.min { ($0 - cursor + 256) % 256 < ($1 - cursor + 256) % 256 }
                            #expect(h == cyclicFirst, "reference from \(cursor), \(context)")
                            #expect(reference.header(0).pointee.cursor == (h + request.slots >= 256 ? 0 : h + request.slots))
                            reference.free(area: 0, start: h, count: request.slots)
                        } else {
                            #expect(
                                feasible.allSatisfy { $0 < cursor && cursor - $0 < request.stride },
                                "reference from \(cursor) missed \(feasible), \(context)")
                        }
                    }
                }
            }
        }
        #expect(checked > 1000)
        #expect(found > 100)
        #expect(fast.invariantViolation() == nil)
        #expect(reference.invariantViolation() == nil)
        #expect(fast.occupancy == oracle.occupied)
        #expect(reference.occupancy == oracle.occupied)
    }

    /// The guarantees, checked directly rather than through the oracle.
    func checkPlacement(_ start: Int, _ r: SlotRequest, baseSlot: UInt64, pageSize: Int, _ context: String) {
        let startAddress = (baseSlot + UInt64(start)) << 11
        let pad = r.offset >> 11
        let bounce = startAddress + UInt64(pad << 11) + UInt64(r.offset & 0x7ff)
        #expect(start / 128 == (start + r.slots - 1) / 128, "crosses a segment: \(context)")
        #expect(startAddress & r.callerAllocAlignMask == 0, "alloc_align_mask: \(context)")
        if r.callerAllocAlignMask == 0 && r.minAlignMask == 0 && r.allocationSize >= pageSize {
            #expect(startAddress % UInt64(pageSize) == 0, "page alignment: \(context)")
        }
        if r.original != 0 {
            #expect(bounce & r.minAlignMask == r.original & r.minAlignMask, "min_align_mask bits: \(context)")
        }
        #expect(r.slots == (r.allocationSize + 2047) / 2048)
        #expect(r.offset + r.mappingSize <= r.slots * 2048)
    }

    @Test("a boundary mask keeps runs from crossing it, in both allocators")
    func boundary() throws {
        for boundary: UInt64 in [0x7ff, 0xfff, 0x3fff, 0xffff] {
            for size in [1, 2048, 4096, 6144, 8192, 16384] where UInt64(size) <= boundary + 1 {
                for kind in SWIOTLBAllocatorKind.allCases {
                    let table = SlotTable(kind: kind, baseSlot: 3, totalSlots: 256, areaCount: 1)
                    var oracle = SearchOracle(occupied: Array(repeating: false, count: 256), baseSlot: 3)
                    let r = try SlotRequest(
                        original: 0x5000, size: size, allocAlignMask: 0,
                        device: DMADevice(segmentBoundaryMask: boundary), pageSize: 1 << 16)
                    while true {
                        let feasible = oracle.feasibleStarts(r)
                        guard let s = table.allocate(area: 0, r) else {
                            #expect(feasible.isEmpty, "\(kind) boundary \(boundary) size \(size)")
                            break
                        }
                        #expect(feasible.contains(s))
                        let first = (3 + UInt64(s)) << 11
                        let last = first + UInt64(r.slots << 11) - 1
                        #expect(first & ~boundary == last & ~boundary, "\(kind) crosses boundary 0x\(String(boundary, radix: 16))")
                        oracle.take(s, r.slots)
                    }
                    #expect(table.invariantViolation() == nil)
                }
            }
        }
    }

    @Test("longest-run and run-start bit helpers agree with a slow count", arguments: 0..<16)
    func segmentBits(_ seed: Int) {
        var rng = TestRandom(seed: UInt64(seed))
        for _ in 0..<64 {
            var bits = UInt128(rng.next()) << 64 | UInt128(rng.next())
            if seed % 4 == 0 { bits |= UInt128(rng.next()) << 64 | UInt128(rng.next()) }
            if seed % 8 == 1 { bits = ~(UInt128(1) << (rng.next() % 128)) }
            if seed == 2 { bits = .max }
            if seed == 3 { bits = 0 }
            let set = (0..<128).map { bits >> $0 & 1 == 1 }
            var longest = 0
            var current = 0
            for b in set {
                current = b ? current + 1 : 0
                longest = max(longest, current)
            }
            #expect(SegmentBits.longestRun(bits) == longest)
            var runFrom = Array(repeating: 0, count: 129)
            for p in stride(from: 127, through: 0, by: -1) { runFrom[p] = set[p] ? runFrom[p + 1] + 1 : 0 }
            for length in [1, 2, 3, 5, 8, 31, 64, 65, 127, 128] {
                let starts = SegmentBits.runStarts(bits, length: length)
                let expected = (0..<128).filter { runFrom[$0] >= length }
                let got = (0..<128).filter { starts >> $0 & 1 == 1 }
                #expect(got == expected, "length \(length)")
            }
        }
    }
}
