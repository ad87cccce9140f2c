import Testing

@testable import SWIOTLB

/// Linux's copy semantics per direction and per call (reference/linux-guest-facts.md
/// §2.4): map always copies in; unmap copies back for FROM_DEVICE and BIDIRECTIONAL
/// unless SKIP_CPU_SYNC; syncForDevice copies in for TO_DEVICE and BIDIRECTIONAL;
/// syncForCPU copies back for FROM_DEVICE and BIDIRECTIONAL; partial syncs anywhere
/// inside a mapping. Guard bytes around every buffer must never change.
@Suite("Copy semantics")
struct CopySemanticsTests {
    static let guardBytes = 64

    struct Case: Sendable, CustomTestStringConvertible {
        let direction: DMADirection
        let skip: Bool
        let allocator: SWIOTLBAllocatorKind
        var testDescription: String { "\(direction)\(skip ? " SKIP_CPU_SYNC" : "") \(allocator)" }
    }

    static let cases: [Case] = DMADirection.allCases.flatMap { d in
        [false, true].flatMap { skip in SWIOTLBAllocatorKind.allCases.map { Case(direction: d, skip: skip, allocator: $0) } }
    }

    @Test("map, device write, syncForCPU, CPU write, syncForDevice, unmap", arguments: cases)
    func lifecycle(_ c: Case) throws {
        let f = try PoolFixture(slots: 256, allocator: c.allocator)
        let size = 10_000
        let original = f.scratch + 0x1234 + UInt64(Self.guardBytes)  // odd original, with guards around it
        try f.fill(original - UInt64(Self.guardBytes), count: size + 2 * Self.guardBytes, tag: 9)
        try f.fill(original, count: size, tag: 1)
        let attributes: DMAAttributes = c.skip ? [.skipCPUSync] : []

        // map copies in, whatever the direction and even with SKIP_CPU_SYNC.
        let bounce = try f.pool.map(original: original, size: size, direction: c.direction, attributes: attributes)
        try f.expect(bounce, count: size, tag: 1)

        // The device writes; syncForCPU brings it back only for FROM_DEVICE/BIDIRECTIONAL.
        try f.fill(bounce, count: size, tag: 2)
        try f.pool.syncForCPU(bounce, size: size, direction: c.direction)
        try f.expect(original, count: size, tag: c.direction.copiesToCPU ? 2 : 1)

        // The CPU writes; syncForDevice sends it only for TO_DEVICE/BIDIRECTIONAL.
        try f.fill(original, count: size, tag: 3)
        try f.pool.syncForDevice(bounce, size: size, direction: c.direction)
        try f.expect(bounce, count: size, tag: c.direction.copiesToDevice ? 3 : 2)

        // The device writes again; unmap copies back for FROM_DEVICE/BIDIRECTIONAL
        // unless SKIP_CPU_SYNC.
        try f.fill(bounce, count: size, tag: 4)
        try f.pool.unmap(bounce, size: size, direction: c.direction, attributes: attributes)
        try f.expect(original, count: size, tag: c.direction.copiesToCPU && !c.skip ? 4 : 3)

        try f.expect(original - UInt64(Self.guardBytes), count: Self.guardBytes, tag: 9)
        try f.expect(original + UInt64(size), count: Self.guardBytes, tag: 9, from: size + Self.guardBytes)
        #expect(f.pool.statistics.usedSlots == 0)
    }

    @Test("partial syncs at odd offsets copy exactly their range", arguments: DMADirection.allCases)
    func partialSyncs(_ direction: DMADirection) throws {
        let f = try PoolFixture(slots: 256)
        let size = 3 * 2048 + 517
        let original = f.scratch + 0x801
        let offsets = [0, 1, 7, 2047, 2048, 2049, 4095, 6000, size - 1]
        let lengths = [1, 3, 100, 2048, 5000]
        for offset in offsets {
            for length in lengths where offset + length <= size {
                try f.fill(original, count: size, tag: 1)
                let bounce = try f.pool.map(original: original, size: size, direction: direction)
                // Device data everywhere in the bounce buffer, then sync a window back.
                try f.fill(bounce, count: size, tag: 2)
                try f.pool.syncForCPU(bounce + UInt64(offset), size: length, direction: direction)
                let back = try f.memory.read(at: original, count: size)
                for i in 0..<size {
                    let inWindow = i >= offset && i < offset + length && direction.copiesToCPU
                    if back[i] != PoolFixture.byte(inWindow ? 2 : 1, i) {
                        Issue.record("syncForCPU \(direction) offset \(offset) length \(length): byte \(i) wrong")
                        break
                    }
                }
                // CPU data everywhere in the original, then sync a window out.
                try f.fill(original, count: size, tag: 3)
                try f.pool.syncForDevice(bounce + UInt64(offset), size: length, direction: direction)
                let out = try f.memory.read(at: bounce, count: size)
                for i in 0..<size {
                    let inWindow = i >= offset && i < offset + length && direction.copiesToDevice
                    if out[i] != PoolFixture.byte(inWindow ? 3 : 2, i) {
                        Issue.record("syncForDevice \(direction) offset \(offset) length \(length): byte \(i) wrong")
                        break
                    }
                }
                try f.pool.unmap(bounce, size: size, direction: direction, attributes: .skipCPUSync)
            }
        }
        #expect(f.pool.statistics.usedSlots == 0)
    }

    @Test("a sync that runs past the mapping's end is refused and copies nothing")
    func syncPastEnd() throws {
        let f = try PoolFixture(slots: 256)
        let size = 5000
        let original = f.scratch + 0x40
        try f.fill(original, count: size, tag: 1)
        let bounce = try f.pool.map(original: original, size: size, direction: .bidirectional)
        try f.fill(bounce, count: size, tag: 2)
        try f.pool.syncForCPU(bounce + 4999, size: 1, direction: .bidirectional)  // the last byte is fine
        #expect(throws: SWIOTLBError.syncOutOfBounds(
            bounce + 4000, size: 1001, mappingAddress: bounce, mappedSize: size, operation: .syncForCPU)
        ) {
            try f.pool.syncForCPU(bounce + 4000, size: 1001, direction: .bidirectional)
        }
        #expect(throws: SWIOTLBError.syncOutOfBounds(
            bounce + 1, size: size, mappingAddress: bounce, mappedSize: size, operation: .syncForDevice)
        ) {
            try f.pool.syncForDevice(bounce + 1, size: size, direction: .bidirectional)
        }
        try f.expect(original, count: 4999, tag: 1)
        try f.pool.unmap(bounce, size: size, direction: .bidirectional)
        try f.expect(original, count: size, tag: 2)
    }

    @Test("min-align offsets and pad slots keep the data where the device expects it")
    func offsetsAndPadding() throws {
        let f = try PoolFixture(slots: 512, pageSize: 4096)
        for (allocMask, minMask, offset) in [(UInt64(0), UInt64(0xfff), 0xa10), (0xffff, 0xfff, 0xa10), (0xffff, 0x3fff, 0x2a10), (0x3fff, 0xffff, 0x9a10)] {
            let original = f.scratch + 0x10000 + UInt64(offset)
            let size = 9000
            try f.fill(original, count: size, tag: 5)
            let bounce = try f.pool.map(
                original: original, size: size, direction: .toDevice, allocAlignMask: allocMask,
                device: DMADevice(minAlignMask: minMask))
            #expect(bounce & minMask == original & minMask)
            try f.expect(bounce, count: size, tag: 5)
            let m = try #require(f.pool.mapping(containing: bounce + 100))
            let offsetInAlignment = Int(original & minMask & (allocMask | 0x7ff))
            #expect(m.padSlots == offsetInAlignment >> 11)
            #expect(m.slots == ((size + offsetInAlignment + Int(allocMask)) & ~Int(allocMask) + 2047) / 2048)
            try f.pool.unmap(bounce, size: size, direction: .toDevice)
        }
        #expect(f.pool.statistics.usedSlots == 0)
    }
}
