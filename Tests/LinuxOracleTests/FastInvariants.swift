import SWIOTLB
import Testing

/// What every SWIOTLB allocator must guarantee, checked on a replay's results
/// (`swiotlb_tbl_map_single()`'s contract, kernel/dma/swiotlb.c 6.12): the bounce
/// buffer lies in the pool, keeps the original's `min_align_mask` bits, starts its
/// allocation on the requested alignment, crosses no 128-slot segment nor segment
/// boundary, overlaps no live mapping, and the used count is the live slots' sum.
enum FastInvariants {
    struct Violation: Error, CustomStringConvertible { let description: String }

    static func check(_ scenario: SWIOTLBReplayScenario, _ result: SWIOTLBReplayReport.Scenario) throws {
        let pool = scenario.pool
        let start = pool.start, end = pool.start + UInt64(pool.size)
        var live: [UInt64: (first: UInt64, last: UInt64, slots: Int)] = [:]
        for (op, r) in zip(scenario.ops, result.results) {
            switch op {
            case .map(let m):
                guard let address = r.tlbAddress else { continue }
                func fail(_ why: String) -> Violation {
                    Violation(description: "\(scenario.name) op \(r.index): \(why) (map \(m), address 0x\(String(address, radix: 16)))")
                }
                let slotMask = UInt64(SWIOTLB.slotSize - 1)
                let offset = m.origAddr & m.minAlignMask & (m.allocAlignMask | slotMask)
                let allocStart = address - offset
                let alignment = m.allocAlignMask | slotMask
                let pageRule = m.allocAlignMask == 0 && m.minAlignMask == 0 && m.size >= pool.pageSize
                if address & m.minAlignMask != m.origAddr & m.minAlignMask { throw fail("min_align_mask bits differ") }
                if allocStart & alignment != 0 && (allocStart - start) & alignment != 0 { throw fail("allocation misaligned") }
                if pageRule && (allocStart - start) & UInt64(pool.pageSize - 1) != 0 && allocStart & UInt64(pool.pageSize - 1) != 0 {
                    throw fail("a page-sized mapping is not page-aligned")
                }
                var allocSize = UInt64(m.size) + offset
                if m.allocAlignMask != 0 { allocSize = (allocSize + m.allocAlignMask) & ~m.allocAlignMask }
                let last = allocStart + allocSize - 1
                if allocStart < start || last >= end { throw fail("outside the pool") }
                let segment = UInt64(SWIOTLB.segmentSize)
                if (allocStart - start) / segment != (last - start) / segment { throw fail("crosses a 128-slot segment") }
                if allocStart & ~m.segBoundaryMask != last & ~m.segBoundaryMask { throw fail("crosses the segment boundary") }
                for (_, other) in live where !(last < other.first || allocStart > other.last) {
                    throw fail("overlaps a live mapping")
                }
                live[m.id] = (allocStart, last, SWIOTLB.slots(covering: Int(allocSize)))
            case .unmap(let id):
                live[id] = nil
            }
            let used = live.values.reduce(0) { $0 + $1.slots }
            if used != r.usedAfter {
                throw Violation(description: "\(scenario.name) op \(r.index): used \(r.usedAfter), live mappings hold \(used)")
            }
        }
    }
}
