import Synchronization
import Testing

@testable import SWIOTLB

/// Exhaustion is a typed error that explains itself, and the pool recovers.
@Suite("Exhaustion and recovery")
struct ExhaustionTests {
    @Test("a full pool names sizes, alignment, usage, high-water, largest run and area", arguments: SWIOTLBAllocatorKind.allCases)
    func fullPool(_ kind: SWIOTLBAllocatorKind) throws {
        let lines = Mutex<[String]>([])
        let f = try PoolFixture(slots: 512, areas: 2, allocator: kind, warn: { line in lines.withLock { $0.append(line) } })
        // Fill both areas with 32 KiB mappings (16 slots each): 32 of them.
        var live: [UInt64] = []
        for i in 0..<32 { live.append(try f.pool.map(original: f.scratch, size: 32 << 10, direction: .toDevice, cpu: i)) }
        #expect(f.pool.statistics.usedSlots == 512)

        let error = #expect(throws: SWIOTLBError.self) {
            try f.pool.map(original: f.scratch + 0x801, size: 4096, direction: .toDevice, device: DMADevice(minAlignMask: 0xfff), cpu: 3)
        }
        guard case .exhausted(let details) = try #require(error) else {
            Issue.record("expected exhaustion, got \(String(describing: error))")
            return
        }
        #expect(details.poolSize == 1 << 20)
        #expect(details.totalSlots == 512)
        #expect(details.requestSize == 4096)
        #expect(details.allocationSize == 4096 + 1)  // the in-slot offset; bit 11 is matched by the search
        #expect(details.slotsNeeded == 3)
        #expect(details.minAlignMask == 0xfff)
        #expect(details.effectiveAlignment == 4096)
        #expect(details.usedSlots == 512)
        #expect(details.highWaterSlots == 512)
        #expect(details.largestFreeRun == 0)
        #expect(details.startArea == 1)
        #expect(details.areaCount == 2)
        // Linux prints the aligned allocation size (mapping + min-align offset), not the mapping size.
        // (6.1 prints alloc_size, the mapping size: kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.1).)
        let sz = kind == .linux61 ? 4096 : 4097
        #expect(details.kernelMessage == "swiotlb buffer is full (sz: \(sz) bytes), total 512 (slots), used 512 (slots)")
        let text = details.description
        for needle in ["4096 bytes", "3 contiguous slots", "min_align_mask 0xfff", "1024 KiB", "512 slots", "512 used",
            "high-water 512", "largest free run 0 slots", "area 1 of 2"]
        {
            #expect(text.contains(needle), "'\(needle)' missing from: \(text)")
        }
        #expect(lines.withLock { $0 } == [details.kernelMessage])

        // NO_WARN: the same failure, no log line.
        #expect(throws: SWIOTLBError.self) {
            try f.pool.map(original: f.scratch, size: 100, direction: .toDevice, attributes: .noWarn)
        }
        #expect(lines.withLock { $0.count } == 1)
        #expect(f.pool.statistics.failures == 2)

        // Fragmentation: free every other mapping in address order. 16 slots free in runs
        // of 16, so 32 KiB fits and 48 KiB does not; the error reports the largest run.
        live.sort()
        for (i, address) in live.enumerated() where i % 2 == 0 {
            try f.pool.unmap(address, size: 32 << 10, direction: .toDevice)
        }
        let stats = f.pool.statistics
        #expect(stats.usedSlots == 256)
        #expect(stats.highWaterSlots == 512)
        #expect(stats.largestFreeRun == 16)
        let big = #expect(throws: SWIOTLBError.self) {
            try f.pool.map(original: f.scratch, size: 48 << 10, direction: .toDevice)
        }
        if case .exhausted(let d) = try #require(big) {
            #expect(d.largestFreeRun == 16 && d.slotsNeeded == 24 && d.usedSlots == 256 && d.highWaterSlots == 512)
        } else {
            Issue.record("expected exhaustion")
        }
        // Recovery: what fits, maps.
        let again = try f.pool.map(original: f.scratch, size: 32 << 10, direction: .toDevice)
        try f.pool.unmap(again, size: 32 << 10, direction: .toDevice)
        for (i, address) in live.enumerated() where i % 2 == 1 {
            try f.pool.unmap(address, size: 32 << 10, direction: .toDevice)
        }
        #expect(f.pool.statistics.usedSlots == 0)
        let whole = try f.pool.map(original: f.scratch, size: 256 << 10, direction: .toDevice)
        try f.pool.unmap(whole, size: 256 << 10, direction: .toDevice)
        f.pool.resetHighWater()
        #expect(f.pool.statistics.highWaterSlots == 0)
        #expect(f.pool.table.invariantViolation() == nil)
    }

    @Test("maps start in the CPU's area and fall over to the next ones")
    func areaOrder() throws {
        let f = try PoolFixture(slots: 512, areas: 4)
        #expect(f.pool.areaCount == 4 && f.pool.areaSlots == 128)
        let a = try f.pool.map(original: f.scratch, size: 100, direction: .toDevice, cpu: 6)
        #expect(try #require(f.pool.mapping(containing: a)).area == 2)
        #expect(f.pool.area(forCPU: 6) == 2)
        // Fill area 3; a CPU-7 map then lands in area 0 (wrapping), the next in order.
        let full = try f.pool.map(original: f.scratch, size: 256 << 10, direction: .toDevice, cpu: 3)
        #expect(try #require(f.pool.mapping(containing: full)).area == 3)
        let b = try f.pool.map(original: f.scratch, size: 100, direction: .toDevice, cpu: 7)
        #expect(try #require(f.pool.mapping(containing: b)).area == 0)
        let s = f.pool.statistics
        #expect(s.areas.map(\.usedSlots) == [1, 0, 1, 128])
        #expect(s.areas.map(\.highWaterSlots) == [1, 0, 1, 128])
    }
}
