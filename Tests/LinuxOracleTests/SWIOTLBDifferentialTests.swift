import Foundation
import SWIOTLB
import Testing

/// SVMKit's reference allocator against Linux's own `kernel/dma/swiotlb.c`
/// (`swiotlb_tbl_map_single`, `swiotlb_search_pool_area`, `swiotlb_release_slots`,
/// `mem_used`; 6.12), compiled on the host by Scripts/linux-oracle: the same seeded
/// request streams through both, every tlb_addr, success or failure and used count
/// compared after every op.
@Suite("SWIOTLB: reference allocator against Linux 6.12")
struct SWIOTLBDifferentialTests {
    /// The pools of issue 16: the default 64 MiB pool, a 4 MiB pool at a 64 KiB- but not
    /// 128 KiB-aligned base, 4 KiB and 64 KiB pages, one 128-slot segment, several areas.
    static let pools: [(name: String, pool: SWIOTLBReplayPool)] = [
        ("default-64M-4areas", SWIOTLBReplayPool(start: 0x400_0000, nslabs: 32768, nareas: 4, pageSize: 65536)),
        ("default-64M-1area-4K", SWIOTLBReplayPool(start: 0x800_0000, nslabs: 32768, nareas: 1, pageSize: 4096)),
        ("4M-at-64K-not-128K", SWIOTLBReplayPool(start: 0x3_0001_0000, nslabs: 2048, nareas: 2, pageSize: 65536)),
        ("4M-at-64K-not-128K-4K", SWIOTLBReplayPool(start: 0x1_0000, nslabs: 2048, nareas: 8, pageSize: 4096)),
        ("one-segment", SWIOTLBReplayPool(start: 0x20_0000, nslabs: 128, nareas: 1, pageSize: 65536)),
        ("one-segment-4K", SWIOTLBReplayPool(start: 0x1000, nslabs: 128, nareas: 1, pageSize: 4096)),
        ("8M-16areas", SWIOTLBReplayPool(start: 0x1000_0000, nslabs: 4096, nareas: 16, pageSize: 65536)),
    ]

    /// A seeded stream of `count` ops on `pool`: sizes up to and past the 256 KiB maximum,
    /// random masks, CPUs and unmaps, biased to keep the pool under pressure.
    static func scenario(name: String, pool: SWIOTLBReplayPool, count: Int, seed: UInt64) -> SWIOTLBReplayScenario {
        var rng = SeededGenerator(seed: seed)
        var live: [UInt64] = []
        var nextID: UInt64 = 1
        var ops: [SWIOTLBReplayOperation] = []
        let allocMasks: [UInt64] = [0, 0, 0, 0, 0x7ff, 0xfff, 0xffff, 0x1_ffff, 0x3_ffff, 0x3f]
        let minMasks: [UInt64] = [0, 0, 0, 0xfff, 0xfff, 0x7ff, 0x3fff, 0x1_ffff, 0xf]
        let boundaries: [UInt64] = [.max, .max, .max, 0xffff_ffff, 0xffff, 0x3_ffff, 0xfff, 0x7ff, 0x1_ffff]
        for _ in 0..<count {
            if !live.isEmpty && Int.random(in: 0..<100, using: &rng) < 45 {
                let k = Int.random(in: 0..<live.count, using: &rng)
                ops.append(.unmap(id: live.remove(at: k)))
                continue
            }
            let size: Int
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<4: size = Int.random(in: 1...4096, using: &rng)
            case 4..<7: size = Int.random(in: 4097...65536, using: &rng)
            case 7..<9: size = Int.random(in: 65537...(256 << 10), using: &rng)
            default: size = Int.random(in: (250 << 10)...(300 << 10), using: &rng)
            }
            let orig = UInt64.random(in: 0...(1 << 40), using: &rng) & ~(Bool.random(using: &rng) ? 0 : 0xfff)
            let map = SWIOTLBReplayMap(
                id: nextID, origAddr: orig, size: size, allocAlignMask: allocMasks.randomElement(using: &rng) ?? 0,
                minAlignMask: minMasks.randomElement(using: &rng) ?? 0,
                segBoundaryMask: boundaries.randomElement(using: &rng) ?? .max, cpu: Int.random(in: 0..<64, using: &rng))
            ops.append(.map(map))
            live.append(nextID)
            nextID += 1
        }
        return SWIOTLBReplayScenario(name: name, pool: pool, ops: ops)
    }

    static func trace(seed: UInt64, opsPerPool: Int) -> SWIOTLBReplayTrace {
        SWIOTLBReplayTrace(
            scenarios: pools.enumerated().map { i, p in
                scenario(name: p.name, pool: p.pool, count: opsPerPool, seed: seed &+ UInt64(i))
            })
    }

    @Test("24,500 seeded requests over seven pools: every address, failure and used count as Linux")
    func reference() async throws {
        let seed: UInt64 = 0x5EED_0016
        let trace = Self.trace(seed: seed, opsPerPool: 3500)
        let ours = try SWIOTLBReplayer.replay(trace, allocator: .reference)
        let linux = try await OracleReplay.run(trace)
        let failures = ours.scenarios.reduce(0) { $0 + $1.counts.failed }
        let maps = ours.scenarios.reduce(0) { $0 + $1.counts.mapped + $1.counts.failed }
        #expect(maps > 10_000 && failures > 1000, "the stream must put the pools under pressure: \(failures) of \(maps)")
        if let difference = OracleReplay.firstDifference(ours.json, linux, trace: trace) {
            Issue.record("seed \(String(seed, radix: 16)), Linux \(try LinuxOracle.kernelVersion()): \(difference)")
        }
    }

    @Test("the harness fails when the reference allocator is broken (a test double)")
    func brokenDouble() async throws {
        let trace = Self.trace(seed: 7, opsPerPool: 600)
        var scenarios: [SWIOTLBReplayReport.Scenario] = []
        for scenario in trace.scenarios {
            let pool = try SWIOTLBReplayer.makePool(scenario.pool, allocator: .reference)
            scenarios.append(SWIOTLBReplayer.replay(scenario, on: LeakyAllocator(pool: pool)))
        }
        let linux = try await OracleReplay.run(trace)
        let difference = OracleReplay.firstDifference(SWIOTLBReplayReport(scenarios: scenarios).json, linux, trace: trace)
        #expect(difference != nil)
        #expect(difference?.contains("first differing op") == true)
    }

    @Test("svmkit swiotlb replay round trip: the oracle's addresses replay identically; the fast allocator keeps every invariant")
    func roundTrip() async throws {
        let trace = Self.trace(seed: 99, opsPerPool: 800)
        let linux = try await OracleReplay.run(trace)
        #expect(try SWIOTLBReplayer.replay(trace, allocator: .reference).json == linux)
        let fast = try SWIOTLBReplayer.replay(trace, allocator: .fast)
        for (scenario, result) in zip(trace.scenarios, fast.scenarios) {
            try FastInvariants.check(scenario, result)
        }
    }
}

/// A broken reference allocator: forgets to release every 50th unmap.
private final class LeakyAllocator: SWIOTLBReplayTarget {
    let pool: SWIOTLBPool
    var unmaps = 0
    init(pool: SWIOTLBPool) { self.pool = pool }
    func replayMap(_ request: SWIOTLBReplayMap) -> UInt64? { pool.replayMap(request) }
    func replayUnmap(address: UInt64, size: Int) {
        unmaps += 1
        if unmaps % 50 != 0 { pool.replayUnmap(address: address, size: size) }
    }
    var replayUsedSlots: Int { pool.replayUsedSlots }
}
