import Synchronization
import Testing

@testable import SWIOTLB

/// Misuse is reported as a typed error that names the culprit, and leaves the pool
/// as it was.
@Suite("Misuse")
struct MisuseTests {
    @Test("double unmap, unmap of garbage, interior and wrong-size unmaps", arguments: SWIOTLBAllocatorKind.allCases)
    func unmapMisuse(_ kind: SWIOTLBAllocatorKind) throws {
        let f = try PoolFixture(slots: 256, allocator: kind)
        let a = try f.pool.map(original: f.scratch + 0x123, size: 6000, direction: .toDevice)
        let b = try f.pool.map(original: f.scratch + 0x9000, size: 100, direction: .fromDevice)
        let before = f.pool.statistics

        #expect(throws: SWIOTLBError.notMappingStart(a + 2048, mappingAddress: a, operation: .unmap)) {
            try f.pool.unmap(a + 2048, size: 6000, direction: .toDevice)
        }
        #expect(throws: SWIOTLBError.sizeMismatch(a, size: 6001, mappedSize: 6000, operation: .unmap)) {
            try f.pool.unmap(a, size: 6001, direction: .toDevice)
        }
        let unmappedSlot = f.pool.region.base + 200 * 2048
        #expect(throws: SWIOTLBError.notMapped(unmappedSlot, operation: .unmap)) {
            try f.pool.unmap(unmappedSlot, size: 10, direction: .toDevice)
        }
        #expect(throws: SWIOTLBError.notBounceAddress(f.scratch, operation: .unmap)) {
            try f.pool.unmap(f.scratch, size: 10, direction: .toDevice)
        }
        #expect(f.pool.statistics == before)

        try f.pool.unmap(a, size: 6000, direction: .toDevice)
        #expect(throws: SWIOTLBError.alreadyUnmapped(a, operation: .unmap)) {
            try f.pool.unmap(a, size: 6000, direction: .toDevice)
        }
        #expect(throws: SWIOTLBError.alreadyUnmapped(a + 10, operation: .syncForCPU)) {
            try f.pool.syncForCPU(a + 10, size: 10, direction: .bidirectional)
        }
        #expect(throws: SWIOTLBError.alreadyUnmapped(a + 10, operation: .syncForDevice)) {
            try f.pool.syncForDevice(a + 10, size: 10, direction: .bidirectional)
        }
        #expect(f.pool.statistics.usedSlots == before.usedSlots - 3)

        // Once the slots are reused by another mapping, the old address is that
        // mapping's interior or start, not a double unmap.
        let c = try f.pool.map(original: f.scratch + 0x123, size: 6000, direction: .toDevice)
        if kind == .fast { #expect(c == a) }  // first fit reuses the freed run
        #expect(throws: Never.self) { try f.pool.unmap(c, size: 6000, direction: .toDevice) }
        try f.pool.unmap(b, size: 100, direction: .fromDevice)
        #expect(f.pool.statistics.usedSlots == 0)
        #expect(f.pool.table.invariantViolation() == nil)
    }

    @Test("error descriptions name the operation and the addresses")
    func descriptions() {
        #expect(SWIOTLBError.alreadyUnmapped(0x1000, operation: .unmap).description == "unmap: double unmap of 0x1000")
        #expect(
            SWIOTLBError.notMappingStart(0x1800, mappingAddress: 0x1000, operation: .unmap).description
                == "unmap: 0x1800 is inside the mapping at 0x1000, not its start")
        #expect(
            SWIOTLBError.syncOutOfBounds(0x1100, size: 0x100, mappingAddress: 0x1000, mappedSize: 0x150, operation: .syncForCPU)
                .description == "syncForCPU: 256 bytes at 0x1100 leave the mapping at 0x1000 of 336 bytes (ends at 0x1150)")
        #expect(SWIOTLBError.notMapped(0x2000, operation: .syncForDevice).description == "syncForDevice: 0x2000 is not inside any mapping")
    }

    @Test("bad sizes and masks are refused before anything is allocated")
    func badRequests() throws {
        let f = try PoolFixture(slots: 256)
        let o = f.scratch
        #expect(throws: SWIOTLBError.invalidSize(0, operation: .map)) { try f.pool.map(original: o, size: 0, direction: .toDevice) }
        #expect(throws: SWIOTLBError.invalidSize(-5, operation: .map)) { try f.pool.map(original: o, size: -5, direction: .toDevice) }
        #expect(throws: SWIOTLBError.invalidMask(name: "alloc_align_mask", value: 0x1001)) {
            try f.pool.map(original: o, size: 10, direction: .toDevice, allocAlignMask: 0x1001)
        }
        #expect(throws: SWIOTLBError.invalidMask(name: "min_align_mask", value: 0xf0)) {
            try f.pool.map(original: o, size: 10, direction: .toDevice, device: DMADevice(minAlignMask: 0xf0))
        }
        #expect(throws: SWIOTLBError.invalidMask(name: "segment_boundary_mask", value: 0xff)) {
            try f.pool.map(original: o, size: 10, direction: .toDevice, device: DMADevice(segmentBoundaryMask: 0xff))
        }
        #expect(throws: SWIOTLBError.mappingTooLarge(size: 262_145, allocationSize: 262_145, maximum: 262_144)) {
            try f.pool.map(original: o, size: 262_145, direction: .toDevice)
        }
        // 0xfff min-align with an offset of 0x800: 256 KiB no longer fits (NVMe's 252 KiB limit).
        #expect(SWIOTLB.maxMappingSize(minAlignMask: 0xfff) == 252 << 10)
        #expect(throws: SWIOTLBError.mappingTooLarge(size: 262_144, allocationSize: 262_144 + 0x800, maximum: 252 << 10)) {
            try f.pool.map(original: o + 0x800, size: 262_144, direction: .toDevice, device: DMADevice(minAlignMask: 0xfff))
        }
        #expect(throws: SWIOTLBError.originalOutOfRange(original: .max - 5, size: 10)) {
            try f.pool.map(original: .max - 5, size: 10, direction: .toDevice)
        }
        #expect(throws: SWIOTLBError.invalidSize(-1, operation: .syncForCPU)) {
            try f.pool.syncForCPU(f.pool.region.base, size: -1, direction: .fromDevice)
        }
        #expect(f.pool.statistics.usedSlots == 0)
        #expect(f.pool.statistics.failures == 0)
    }

    /// A memory accessor that refuses every copy touching a range, which can be changed.
    final class RefusingMemory: BounceMemory {
        let inner: HostBounceMemory
        let refused: Mutex<Range<UInt64>>
        init(inner: HostBounceMemory, refused: Range<UInt64>) {
            self.inner = inner
            self.refused = Mutex(refused)
        }
        func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
            let range = refused.withLock { $0 }
            for a in [source, destination] where range.overlaps(a..<(a + UInt64(count))) {
                throw BounceMemoryError(address: a, count: count, reason: "page is not shared")
            }
            try inner.copy(from: source, to: destination, count: count)
        }
    }

    @Test("a refused copy fails the call, names the range, and releases the slots")
    func copyFailures() throws {
        let host = try HostBounceMemory(size: 2 << 20)
        let memory = RefusingMemory(inner: host, refused: 0x18_0000..<0x18_1000)
        let pool = try SWIOTLBPool(region: BounceRegion(base: 0, size: 1 << 20), memory: memory)
        #expect(throws: SWIOTLBError.copyFailed(
            BounceMemoryError(address: 0x17_f000, count: 0x2000, reason: "page is not shared"), operation: .map)
        ) {
            try pool.map(original: 0x17_f000, size: 0x2000, direction: .toDevice)
        }
        #expect(pool.statistics.usedSlots == 0)

        let bounce = try pool.map(original: 0x19_0000, size: 0x1000, direction: .fromDevice)
        memory.refused.withLock { $0 = 0x19_0000..<0x19_1000 }
        #expect(throws: SWIOTLBError.copyFailed(
            BounceMemoryError(address: 0x19_0000, count: 0x1000, reason: "page is not shared"), operation: .unmap)
        ) {
            try pool.unmap(bounce, size: 0x1000, direction: .fromDevice)
        }
        #expect(pool.statistics.usedSlots == 0)
        #expect(throws: SWIOTLBError.alreadyUnmapped(bounce, operation: .unmap)) {
            try pool.unmap(bounce, size: 0x1000, direction: .fromDevice)
        }
    }
}
