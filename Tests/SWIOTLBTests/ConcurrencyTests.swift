import Testing

@testable import SWIOTLB

/// Several threads mapping and unmapping random sizes at once, each checking its
/// data with checksums; run clean under `swift test --sanitize=thread`.
@Suite("Concurrency")
struct ConcurrencyTests {
    static func checksum(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            var i = 0
            while i + 8 <= raw.count {
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01b3
                i += 8
            }
            while i < raw.count {
                h = (h ^ UInt64(raw[i])) &* 0x100_0000_01b3
                i += 1
            }
            return h
        }
    }

    static func randomBytes(_ count: Int, _ rng: inout TestRandom) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                var word = rng.next()
                for _ in 0..<min(8, count - i) {
                    buffer[i] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    i += 1
                }
            }
            initialized = count
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let threads: Int
        let areas: Int
        let allocator: SWIOTLBAllocatorKind
        var testDescription: String { "\(threads) threads, \(areas) areas, \(allocator)" }
    }

    @Test(arguments: [
        Case(threads: 2, areas: 2, allocator: .fast), Case(threads: 4, areas: 2, allocator: .fast),
        Case(threads: 3, areas: 1, allocator: .fast), Case(threads: 4, areas: 4, allocator: .reference),
    ])
    func mapUnmapWithChecksums(_ c: Case) async throws {
        // A small pool, so that threads share areas and sometimes run out.
        let f = try PoolFixture(slots: 1024, areas: c.areas, allocator: c.allocator, scratchBytes: c.threads << 20)
        let pool = f.pool
        let memory = f.memory
        let scratch = f.scratch
        let results = await withTaskGroup(of: (Int, Int, String?).self) { group in
            for t in 0..<c.threads {
                group.addTask {
                    var rng = TestRandom(seed: UInt64(t) &* 7919 &+ UInt64(c.areas))
                    let base = scratch + UInt64(t << 20)
                    var done = 0
                    var exhausted = 0
                    var live: [(bounce: UInt64, original: UInt64, size: Int, direction: DMADirection, sum: UInt64)] = []
                    func finish(_ m: (bounce: UInt64, original: UInt64, size: Int, direction: DMADirection, sum: UInt64)) throws -> String? {
                        // The "device" checks what it reads, then writes its own data.
                        let seen = try memory.read(at: m.bounce, count: m.size)
                        if Self.checksum(seen) != m.sum { return "thread \(t): bounce data differs from the original" }
                        var reply = seen
                        reply.withUnsafeMutableBytes { raw in
                            for i in stride(from: 0, to: raw.count, by: 64) { raw[i] ^= 0x5A }
                        }
                        try memory.write(reply, at: m.bounce)
                        try pool.unmap(m.bounce, size: m.size, direction: m.direction)
                        let back = try memory.read(at: m.original, count: m.size)
                        let expected = m.direction == .toDevice ? seen : reply
                        if back != expected { return "thread \(t): original after unmap is wrong (\(m.direction))" }
                        return nil
                    }
                    do {
                        for i in 0..<200 {
                            if !live.isEmpty && (live.count > 6 || rng.next() % 3 == 0) {
                                if let problem = try finish(live.removeFirst()) { return (done, exhausted, problem) }
                                done += 1
                                continue
                            }
                            let size = 1 + Int(rng.next() % (rng.next() % 8 == 0 ? 65536 : 6000))
                            // Each live mapping of this thread has its own 128 KiB original.
                            let original = base + UInt64((i % 8) << 17) + (rng.next() % 0x1000)
                            guard !live.contains(where: { $0.original >> 17 == original >> 17 }) else { continue }
                            let direction = DMADirection.allCases[Int(rng.next() % 3)]
                            let data = Self.randomBytes(size, &rng)
                            try memory.write(data, at: original)
                            do throws(SWIOTLBError) {
                                let bounce = try pool.map(
                                    original: original, size: size, direction: direction, cpu: Int(rng.next() % 8))
                                live.append((bounce, original, size, direction, Self.checksum(data)))
                            } catch {
                                guard case .exhausted = error else { return (done, exhausted, "thread \(t): \(error)") }
                                exhausted += 1
                            }
                        }
                        for m in live {
                            if let problem = try finish(m) { return (done, exhausted, problem) }
                            done += 1
                        }
                    } catch {
                        return (done, exhausted, "thread \(t): \(error)")
                    }
                    return (done, exhausted, nil)
                }
            }
            var all: [(Int, Int, String?)] = []
            for await r in group { all.append(r) }
            return all
        }
        for (_, _, problem) in results {
            if let problem { Issue.record(Comment(rawValue: problem)) }
        }
        #expect(results.reduce(0) { $0 + $1.0 } > 60 * c.threads)
        let stats = pool.statistics
        #expect(stats.usedSlots == 0)
        #expect(stats.highWaterSlots > 0)
        #expect(pool.table.invariantViolation() == nil)
    }
}
