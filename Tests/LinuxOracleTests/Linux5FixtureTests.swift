import Foundation
import SWIOTLB
import SecureGuest
import Testing

/// The 5.4 and 5.10 profiles' slot search against Linux 5.4.y's and 5.10.y's own
/// `kernel/dma/swiotlb.c` (`swiotlb_init_with_tbl`, `swiotlb_tbl_map_single`,
/// `swiotlb_tbl_unmap_single`, and 5.10's `find_slots`), through answers recorded once
/// by Scripts/linux5-oracle-fixtures: no 5.x source can be installed in CI, so the real
/// code ran one-off and its answers (address or failure, hang, used count after every
/// op) are committed in Fixtures/. The streams are the 6.12 test's seeded streams on
/// one-area pools with no `alloc_align_mask` (5.x has neither areas nor that mask),
/// replayed through the allocator the profile uses (``LinuxVersion/swiotlbAllocator``).
@Suite("SWIOTLB: the 5.4 and 5.10 searches against recorded Linux 5.4.y and 5.10.y answers")
struct Linux5FixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// One-area pools: the default 64 MiB pool with 4 KiB and 64 KiB pages, a 4 MiB pool
    /// at a 64 KiB- but not 128 KiB-aligned base, one 128-slot segment.
    static let pools: [(name: String, pool: SWIOTLBReplayPool)] = [
        ("default-64M", SWIOTLBReplayPool(start: 0x400_0000, nslabs: 32768, nareas: 1, pageSize: 65536)),
        ("default-64M-4K", SWIOTLBReplayPool(start: 0x800_0000, nslabs: 32768, nareas: 1, pageSize: 4096)),
        ("4M-at-64K-not-128K", SWIOTLBReplayPool(start: 0x3_0001_0000, nslabs: 2048, nareas: 1, pageSize: 65536)),
        ("one-segment", SWIOTLBReplayPool(start: 0x20_0000, nslabs: 128, nareas: 1, pageSize: 65536)),
        ("one-segment-4K", SWIOTLBReplayPool(start: 0x1000, nslabs: 128, nareas: 1, pageSize: 4096)),
    ]

    static let seed: UInt64 = 0x5EED_0005
    static let opsPerPool = 300

    /// The streams the real code ran: `min_align_mask` as the 6.12 test draws it (5.4's
    /// code has no such field and ignores it), `alloc_align_mask` 0.
    static func trace() -> SWIOTLBReplayTrace {
        SWIOTLBReplayTrace(
            scenarios: pools.enumerated().map { i, p in
                let s = SWIOTLBDifferentialTests.scenario(
                    name: p.name, pool: p.pool, count: opsPerPool, seed: seed &+ UInt64(i))
                return SWIOTLBReplayScenario(
                    name: s.name, pool: s.pool,
                    ops: s.ops.map { op in
                        guard case .map(var m) = op else { return op }
                        m.allocAlignMask = 0
                        return .map(m)
                    })
            })
    }

    /// The same streams as the profile's guest issues them: on 5.4 a device has no
    /// `min_align_mask` (``LinuxVersion/honoursMinAlignMask``).
    static func guestTrace(_ linux: LinuxVersion) -> SWIOTLBReplayTrace {
        let t = trace()
        return linux.honoursMinAlignMask ? t : t.withoutMinAlignMask()
    }

    /// The recorded answers and the release they came from.
    static func recorded(_ linux: LinuxVersion) throws -> (answers: String, release: String) {
        let answers = try String(
            contentsOf: fixtures.appendingPathComponent("linux-\(linux)-replay.json"), encoding: .utf8)
        let release = try String(
            contentsOf: fixtures.appendingPathComponent("linux-\(linux)-release.txt"), encoding: .utf8)
        return (answers, release.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test(
        "1,500 seeded requests over five one-area pools: every address, failure, hang and used count as the recorded Linux answers",
        arguments: [LinuxVersion.v5_4, .v5_10])
    func recordedAnswers(linux: LinuxVersion) throws {
        // Scripts/linux5-oracle-fixtures asks for the streams it runs through the real code.
        if let dir = ProcessInfo.processInfo.environment["SVMKIT_LINUX5_TRACE_DIR"] {
            try Data(OracleReplay.json(Self.trace()).utf8).write(
                to: URL(fileURLWithPath: dir).appendingPathComponent("linux-\(linux)-trace.json"))
        }
        let (answers, release) = try Self.recorded(linux)
        #expect(release == linux.release, "the fixtures come from Linux \(release), the profile names \(linux.release)")
        #expect(linux.swiotlbAreas == false)
        let ours = try SWIOTLBReplayer.replay(Self.guestTrace(linux), allocator: linux.swiotlbAllocator)
        let results = ours.scenarios.flatMap(\.results)
        let failures = results.filter { $0.isMap && !$0.ok }.count
        #expect(failures > 100, "the streams must put the pools under pressure: \(failures) failed maps")
        if let difference = OracleReplay.firstDifference(ours.json, answers, trace: Self.trace()) {
            Issue.record("Linux \(release), \(linux.swiotlbAllocator) allocator: \(difference)")
        }
    }

    /// 5.4 drops `min_align_mask`, 5.10 keeps it; the recorded answers tell them apart,
    /// so neither fixture passes with the other series' device model.
    @Test("the recorded answers need each series' min_align_mask rule: 5.4 ignores it, 5.10 keeps it (and can hang)")
    func minAlignMaskRule() throws {
        let old = try Self.recorded(.v5_4).answers, new = try Self.recorded(.v5_10).answers
        let keeping = try SWIOTLBReplayer.replay(Self.trace(), allocator: .linux61).json
        let dropping = try SWIOTLBReplayer.replay(Self.guestTrace(.v5_4), allocator: .linux61).json
        #expect(keeping != old)
        #expect(dropping == old)
        #expect(keeping == new)
        #expect(new.contains("\"hang\": true"), "5.10.y's find_slots() has 6.1's endless scan")
        #expect(!old.contains("\"hang\": true"))
    }
}
