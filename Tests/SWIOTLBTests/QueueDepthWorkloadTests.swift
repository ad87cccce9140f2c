import Synchronization
import Testing

@testable import SWIOTLB
import SWIOTLBBenchmarks

/// The benchmark's queue-depth workload moves the right bytes: what the device reads is
/// the original, and what the driver gets back is what the device wrote.
@Suite("Queue-depth workload")
struct QueueDepthWorkloadTests {
    /// A memory that drops every `n`-th copy, so that verification has something to find.
    final class LossyMemory: BounceMemory {
        let host: HostBounceMemory
        let n: Int
        let count = Mutex(0)
        init(host: HostBounceMemory, every n: Int) {
            self.host = host
            self.n = n
        }
        func copy(from source: UInt64, to destination: UInt64, count c: Int) throws(BounceMemoryError) {
            let k = count.withLock { $0 += 1; return $0 }
            if k % n == 0 { return }
            try host.copy(from: source, to: destination, count: c)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let depth: Int
        let sizes: [Int]
        let direction: DMADirection
        var testDescription: String { "QD \(depth), sizes \(sizes), \(direction)" }
    }

    static let cases: [Case] = [1, 32, 256].flatMap { depth in
        [DMADirection.toDevice, .fromDevice, .bidirectional].map {
            Case(depth: depth, sizes: depth == 256 ? [4096, 65536, 4096, 4096, 262_144, 512] : [4096], direction: $0)
        }
    }

    @Test(arguments: cases)
    func integrity(_ c: Case) throws {
        let stride = 256 << 10
        let poolBytes = 64 << 20
        let memory = try HostBounceMemory(size: poolBytes + 2 * c.depth * stride)
        let pool = try SWIOTLBPool(region: BounceRegion(base: 0, size: poolBytes), areas: 2, memory: memory)
        let originals = UInt64(poolBytes)
        let workload = try SWIOTLBQueueDepthWorkload(
            pool: pool, memory: memory, originals: originals, stagings: originals + UInt64(c.depth * stride),
            entryStride: stride, queueDepth: c.depth, sizes: c.sizes, direction: c.direction, cpu: 1, verify: true)
        // Give every original distinct content first.
        for k in 0..<c.depth {
            try memory.write((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ k) }, at: originals + UInt64(k * stride))
        }
        workload.run(steps: 3 * c.depth + 17)
        #expect(pool.statistics.usedSlots > 0)
        workload.drain()
        #expect(workload.operations == 3 * c.depth + 17)
        #expect(workload.failures == 0)
        #expect(workload.mismatches == 0)
        #expect(pool.statistics.usedSlots == 0)
        #expect(pool.statistics.highWaterSlots >= c.depth)
    }

    @Test("verification catches a copy that went missing", arguments: [DMADirection.toDevice, .fromDevice])
    func verificationCanFail(_ direction: DMADirection) throws {
        let stride = 64 << 10
        let poolBytes = 4 << 20
        let host = try HostBounceMemory(size: poolBytes + 2 * 8 * stride)
        let lossy = LossyMemory(host: host, every: 5)
        let pool = try SWIOTLBPool(region: BounceRegion(base: 0, size: poolBytes), memory: lossy)
        let workload = try SWIOTLBQueueDepthWorkload(
            pool: pool, memory: host, originals: UInt64(poolBytes), stagings: UInt64(poolBytes + 8 * stride),
            entryStride: stride, queueDepth: 8, sizes: [4096], direction: direction, cpu: 0, verify: true)
        workload.run(steps: 100)
        workload.drain()
        #expect(workload.mismatches > 0)
    }

    @Test("the baseline moves the same bytes through staging buffers")
    func baseline() throws {
        let stride = 64 << 10
        let memory = try HostBounceMemory(size: 2 * 32 * stride)
        let workload = try SWIOTLBQueueDepthWorkload(
            pool: nil, memory: memory, originals: 0, stagings: UInt64(32 * stride), entryStride: stride, queueDepth: 32,
            sizes: [4096, 8192], direction: .bidirectional, cpu: 0, verify: true)
        workload.run(steps: 200)
        workload.drain()
        #expect(workload.operations == 200 && workload.mismatches == 0)
        #expect(workload.bytes == 100 * 4096 + 100 * 8192)
    }
}
