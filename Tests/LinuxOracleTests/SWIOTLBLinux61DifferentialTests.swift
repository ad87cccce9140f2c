import Foundation
import SWIOTLB
import Testing

/// The 6.1 kernel profile's slot search (`SWIOTLBLinux61Pool`) against Linux 6.1's own
/// `kernel/dma/swiotlb.c` (`swiotlb_tbl_map_single`, `swiotlb_do_find_slots`,
/// `swiotlb_release_slots`, `mem_used`; Debian's 6.1.192) built by Scripts/linux-oracle:
/// the same seeded streams as the 6.12 test, every address, failure, hang and used
/// count compared after every op.
@Suite("SWIOTLB: the 6.1 search against Linux 6.1")
struct SWIOTLBLinux61DifferentialTests {
    /// The seeded streams of the 6.12 test without `min_align_mask` (with one, 6.1's scan
    /// can spin for ever: `hangsAgree` runs those).
    static func trace(seed: UInt64, opsPerPool: Int) -> SWIOTLBReplayTrace {
        SWIOTLBDifferentialTests.trace(seed: seed, opsPerPool: opsPerPool).withoutMinAlignMask()
    }

    @Test("17,500 seeded requests over seven pools (no min_align_mask): every address, failure and used count as Linux 6.1")
    func linux61() async throws {
        let seed: UInt64 = 0x5EED_0061
        let trace = Self.trace(seed: seed, opsPerPool: 2500)
        let ours = SWIOTLBReplayer.replayLinux61(trace)
        let pool = try SWIOTLBReplayer.replay(trace, allocator: .linux61)
        let linux = try await OracleReplay.run(trace, version: "6.1")
        let results = ours.scenarios.flatMap(\.results)
        let failures = results.filter { $0.isMap && !$0.ok }.count
        let hung = results.contains(where: \.hang)
        #expect(failures > 500, "the stream must put the pools under pressure: \(failures) failed maps")
        #expect(!hung)
        if let difference = OracleReplay.firstDifference(ours.json, linux, trace: trace) {
            Issue.record("seed \(String(seed, radix: 16)), Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
        if let difference = OracleReplay.firstDifference(pool.json, linux, trace: trace) {
            Issue.record("linux61 pool, seed \(String(seed, radix: 16)): \(difference)")
        }
    }

    /// `swiotlb_do_find_slots (6.1)`: `do { … } while (index != wrap)` with `+1` steps on
    /// misaligned slots and `+stride` steps otherwise can skip `wrap` for ever. The real
    /// code runs each such map in a child that its watchdog kills ("hung at op N"), so
    /// the model's and the pool's hangs are compared with Linux's op by op, with every
    /// address and used count of the ops that return.
    @Test("6.1's endless scan: the model, a linux61 pool and Linux 6.1 hang on the same ops and agree on the rest")
    func hangsAgree() async throws {
        let seeded = SWIOTLBDifferentialTests.trace(seed: 0x5EED_0061, opsPerPool: 200)
        let trace = SWIOTLBReplayTrace(
            scenarios: [
                .linux61ScanHang(pool: SWIOTLBReplayPool(start: 0, nslabs: 128)),
                .linux61ScanHang(pool: SWIOTLBReplayPool(start: 1 << 20, nslabs: 512, nareas: 2), name: "two-areas"),
            ] + seeded.scenarios)
        let model = SWIOTLBReplayer.replayLinux61(trace)
        let pool = try SWIOTLBReplayer.replay(trace, allocator: .linux61)
        // The watchdog counts the child's CPU time: a map that returns uses microseconds of
        // it however loaded the machine is; a hang costs 1 s of CPU each.
        let linux = try await OracleReplay.run(trace, version: "6.1", environment: ["SWIOTLB_REPLAY_WATCHDOG_MS": "1000"])
        let hangs = model.scenarios.flatMap { s in s.results.filter(\.hang).map { "\(s.name) op \($0.index)" } }
        #expect(hangs.count >= 2, "the hanging streams hang: \(hangs)")
        #expect(hangs.count <= 30, "each hang costs the oracle its watchdog: \(hangs)")
        #expect(linux.components(separatedBy: "\"hang\": true").count - 1 == hangs.count)
        if let difference = OracleReplay.firstDifference(model.json, linux, trace: trace) {
            Issue.record("model, Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
        if let difference = OracleReplay.firstDifference(pool.json, linux, trace: trace) {
            Issue.record("linux61 pool, Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
    }

    /// What the NVMe driver of `--disk nvme` maps for a 4 KiB write from an aligned
    /// buffer and then a 1013 KiB direct read into a buffer at page offset 0x800, on a
    /// 1 MiB pool: `min_align_mask` 0xfff, 252 KiB segments (`max_hw_sectors` 504), a
    /// 5 KiB tail (`NVMeDriverTests.realisticHang` runs the same through the guest).
    static func nvmeDirectRead(pool: SWIOTLBReplayPool) -> SWIOTLBReplayScenario {
        let segment = 252 << 10
        let buffer: UInt64 = 0x0200_0800
        var ops: [SWIOTLBReplayOperation] = [
            .map(SWIOTLBReplayMap(id: 0, origAddr: 0x0100_0000, size: 4096, minAlignMask: 0xfff)), .unmap(id: 0),
        ]
        for k in 0..<4 {
            ops.append(
                .map(
                    SWIOTLBReplayMap(
                        id: UInt64(k + 1), origAddr: buffer + UInt64(k * segment), size: segment, minAlignMask: 0xfff)))
        }
        ops.append(.map(SWIOTLBReplayMap(id: 5, origAddr: buffer + UInt64(4 * segment), size: 5120, minAlignMask: 0xfff)))
        return SWIOTLBReplayScenario(name: "nvme-direct-read", pool: pool, ops: ops)
    }

    /// The NVMe stream's last map (the read's tail, which needs three slots from an odd
    /// slot when only single free slots are left on that phase) spins in Linux 6.1's own
    /// `swiotlb_do_find_slots()`, as in the model and a linux61 pool; the four 252 KiB
    /// maps before it land where Linux puts them.
    @Test("An NVMe direct read's mappings hang Linux 6.1 on the same op as the model and a linux61 pool")
    func nvmeDirectReadHangs() async throws {
        let trace = SWIOTLBReplayTrace(
            scenarios: [Self.nvmeDirectRead(pool: SWIOTLBReplayPool(start: 0x0072_0000, nslabs: 512))])
        let model = SWIOTLBReplayer.replayLinux61(trace)
        let pool = try SWIOTLBReplayer.replay(trace, allocator: .linux61)
        let linux = try await OracleReplay.run(trace, version: "6.1", environment: ["SWIOTLB_REPLAY_WATCHDOG_MS": "1000"])
        let results = try #require(model.scenarios.first).results
        #expect(results.filter(\.hang).map(\.index) == [6])
        let returned = results.filter { $0.isMap && !$0.hang }
        #expect(returned.count == 5 && returned.allSatisfy { $0.ok })
        #expect(linux.components(separatedBy: "\"hang\": true").count - 1 == 1)
        if let difference = OracleReplay.firstDifference(model.json, linux, trace: trace) {
            Issue.record("model, Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
        if let difference = OracleReplay.firstDifference(pool.json, linux, trace: trace) {
            Issue.record("linux61 pool, Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
    }
}
