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
    /// The seeded streams of the 6.12 test without `min_align_mask`: with one, 6.1's scan
    /// can spin forever, and the oracle's watchdog does not bring the real code back on
    /// this machine (the process keeps spinning), so those requests are checked on the
    /// model alone (`hangIsDetected`).
    static func trace(seed: UInt64, opsPerPool: Int) -> SWIOTLBReplayTrace {
        let base = SWIOTLBDifferentialTests.trace(seed: seed, opsPerPool: opsPerPool)
        return SWIOTLBReplayTrace(
            scenarios: base.scenarios.map { s in
                SWIOTLBReplayScenario(
                    name: s.name, pool: s.pool,
                    ops: s.ops.map { op in
                        guard case .map(var m) = op else { return op }
                        m.minAlignMask = 0
                        return .map(m)
                    })
            })
    }

    @Test("17,500 seeded requests over seven pools (no min_align_mask): every address, failure and used count as Linux 6.1")
    func linux61() async throws {
        let seed: UInt64 = 0x5EED_0061
        let trace = Self.trace(seed: seed, opsPerPool: 2500)
        let ours = SWIOTLBReplayer.replayLinux61(trace)
        let linux = try await OracleReplay.run(trace, version: "6.1")
        let results = ours.scenarios.flatMap(\.results)
        let failures = results.filter { $0.isMap && !$0.ok }.count
        let hung = results.contains(where: \.hang)
        #expect(failures > 500, "the stream must put the pools under pressure: \(failures) failed maps")
        #expect(!hung)
        if let difference = OracleReplay.firstDifference(ours.json, linux, trace: trace) {
            Issue.record("seed \(String(seed, radix: 16)), Linux \(try LinuxOracle.kernelVersion("6.1")): \(difference)")
        }
    }

    /// `swiotlb_do_find_slots (6.1)`: `do { … } while (index != wrap)` with `+1` steps on
    /// misaligned slots and `+stride` steps otherwise can skip `wrap` for ever.
    @Test("6.1's endless scan is detected on seeded streams with min_align_mask, and only there")
    func hangIsDetected() throws {
        let full = SWIOTLBDifferentialTests.trace(seed: 0x5EED_0061, opsPerPool: 500)
        let hangs = SWIOTLBReplayer.replayLinux61(full).scenarios.flatMap(\.results).filter(\.hang)
        #expect(!hangs.isEmpty, "the streams with min_align_mask reach 6.1's endless scan")
        let wellFormed = hangs.allSatisfy { $0.isMap && !$0.ok && $0.tlbAddress == nil }
        #expect(wellFormed)
    }
}
