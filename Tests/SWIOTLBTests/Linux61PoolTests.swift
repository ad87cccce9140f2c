import Testing

@testable import SWIOTLB

/// A pool of kind `linux61` runs Linux 6.1's request construction and slot search
/// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single, swiotlb_do_find_slots (6.1)`), the
/// same search as the replay model `SWIOTLBLinux61Pool`, with copies.
@Suite("SWIOTLB: the pool on Linux 6.1's search")
struct Linux61PoolTests {
    /// The hanging stream, run on a real pool: the map throws `scanHung` naming the
    /// request, nothing is taken, and the pool keeps working.
    @Test("6.1's endless scan: scanHung names the request; 6.12's search fails the same map cleanly")
    func scanHang() throws {
        let pool = SWIOTLBReplayPool(start: 0, nslabs: 128)
        let scenario = SWIOTLBReplayScenario.linux61ScanHang(pool: pool)
        for kind in [SWIOTLBAllocatorKind.linux61, .reference] {
            let f = try PoolFixture(slots: 128, allocator: kind)
            var live: [UInt64: UInt64] = [:]
            var outcome: SWIOTLBError?
            for op in scenario.ops {
                switch op {
                case .map(let m):
                    do {
                        live[m.id] = try f.pool.map(
                            original: m.origAddr, size: m.size, direction: .toDevice, device: m.device, cpu: m.cpu)
                    } catch { outcome = error }
                case .unmap(let id):
                    if let a = live.removeValue(forKey: id) {
                        try f.pool.unmap(a, size: SWIOTLB.slotSize, direction: .toDevice)
                    }
                }
            }
            let error = try #require(outcome)
            #expect(f.pool.statistics.usedSlots == 64)
            switch (kind, error) {
            case (.linux61, .scanHung(let hang)):
                #expect(hang.size == 4096)
                #expect(hang.original == 0x800)
                #expect(hang.minAlignMask == 0xfff)
                #expect(hang.allocAlignMask == 0)
                #expect(hang.stride == 2)
                #expect(hang.area == 0)
                #expect(hang.usedSlots == 64)
                #expect(hang.description.contains("swiotlb_do_find_slots"))
                #expect(hang.description.contains("7c3940bf81e5"))
            case (.reference, .exhausted):
                break
            default:
                Issue.record("\(kind): unexpected \(error)")
            }
            // The last two slots still take a plain 4 KiB map.
            let a = try f.pool.map(original: f.scratch, size: 4096, direction: .toDevice)
            #expect(a == 126 * UInt64(SWIOTLB.slotSize))
        }
    }

    /// The replay model flags the same map.
    @Test("the replay model and the pool hang on the same op")
    func modelAgrees() throws {
        let trace = SWIOTLBReplayTrace(scenarios: [.linux61ScanHang(pool: SWIOTLBReplayPool(start: 1 << 20, nslabs: 256, nareas: 2))])
        let model = SWIOTLBReplayer.replayLinux61(trace)
        let pool = try SWIOTLBReplayer.replay(trace, allocator: .linux61)
        #expect(model.json == pool.json)
        let hangs = pool.scenarios.flatMap(\.results).filter(\.hang).map(\.index)
        #expect(hangs == [trace.scenarios[0].ops.count - 1])
    }

    /// 6.1's request construction: the min-align offset stays below a slot (no pad
    /// slots), the size is not rounded up to `alloc_align_mask + 1`, and a request of a
    /// page or more is page-strided even with a `min_align_mask`.
    @Test("6.1's offsets and strides, with the data bounced intact")
    func requestRules() throws {
        let f = try PoolFixture(slots: 512, allocator: .linux61)
        try f.fill(f.scratch + 0x1a00, count: 3000, tag: 7)
        // offset = orig & 0xfff & 0x7ff = 0x200: no pad slot, unlike 6.12's 0xa00.
        let a = try f.pool.map(
            original: f.scratch + 0x1a00, size: 3000, direction: .toDevice, device: DMADevice(minAlignMask: 0xfff))
        #expect(a & 0xfff == 0xa00)
        #expect(f.pool.statistics.usedSlots == 2)  // nr_slots(3000 + 0x200)
        #expect(try f.memory.read(at: a, count: 3000) == (0..<3000).map { PoolFixture.byte(7, $0) })
        try f.pool.unmap(a, size: 3000, direction: .toDevice)
        // alloc_align_mask 0x3fff: aligned to 16 KiB by the stride, but 2 KiB takes one slot.
        let b = try f.pool.map(original: f.scratch, size: 2048, direction: .toDevice, allocAlignMask: 0x3fff)
        #expect(b % 0x4000 == 0)
        #expect(f.pool.statistics.usedSlots == 1)
        // A 64 KiB map with min_align_mask: page stride in 6.1 (6.12 drops the page rule then).
        let c = try f.pool.map(
            original: f.scratch, size: 65536, direction: .toDevice, device: DMADevice(minAlignMask: 0x7ff))
        #expect(c % 65536 == 0)
    }

    /// 6.1 prints `alloc_size` (the mapping size) where 6.12 prints size + offset
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.1, 6.12)`).
    @Test("\"swiotlb buffer is full\" prints the mapping size on 6.1, the offset size on 6.12")
    func fullMessage() throws {
        for (kind, sz) in [(SWIOTLBAllocatorKind.linux61, 3000), (.reference, 3000 + 0x200)] {
            let f = try PoolFixture(slots: 128, allocator: kind)
            _ = try f.pool.map(original: f.scratch, size: 128 * 2048, direction: .toDevice)
            let error = #expect(throws: SWIOTLBError.self) {
                try f.pool.map(
                    original: f.scratch + 0x200, size: 3000, direction: .toDevice, device: DMADevice(minAlignMask: 0x3ff))
            }
            guard case .exhausted(let details) = try #require(error) else {
                Issue.record("\(kind): \(String(describing: error))")
                continue
            }
            #expect(details.kernelMessage == "swiotlb buffer is full (sz: \(sz) bytes), total 128 (slots), used 128 (slots)")
        }
    }
}
