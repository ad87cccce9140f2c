import Foundation
import Testing

/// `svmkit swiotlb replay` (issue 16 item 3). The expected lines are what
/// `Scripts/linux-oracle replay` printed for the same trace from Linux 6.12.118's own
/// kernel/dma/swiotlb.c; LinuxOracleTests checks thousands more against the live oracle.
@Suite("svmkit swiotlb replay")
struct SWIOTLBReplayCommandTests {
    static let trace = """
        {"pool": {"start": "0x4000000", "nslabs": 32768, "nareas": 4, "page_size": 65536},
         "ops": [
           {"op": "map", "id": 1, "orig_addr": "0x9000801", "size": 4096, "min_align_mask": "0xfff", "cpu": 2},
           {"op": "map", "id": 2, "orig_addr": "0x9000000", "size": 300000},
           {"op": "map", "id": 3, "orig_addr": "0x9000000", "size": 65536, "cpu": 1},
           {"op": "unmap", "id": 1},
           {"op": "unmap", "id": 2}
         ]}
        """

    static let linux = """
        {"scenarios": [
        {"name": "default", "results": [
        {"i": 0, "op": "map", "id": 1, "ok": true, "tlb_addr": "0x6000801", "used_after": 3},
        {"i": 1, "op": "map", "id": 2, "ok": false, "used_after": 3},
        {"i": 2, "op": "map", "id": 3, "ok": true, "tlb_addr": "0x5000000", "used_after": 35},
        {"i": 3, "op": "unmap", "id": 1, "ok": true, "used_after": 32},
        {"i": 4, "op": "unmap", "id": 2, "ok": false, "used_after": 32}
        ]}
        ]}

        """

    @Test("--json prints what the Linux oracle prints for the same trace")
    func json() async throws {
        let r = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--json"], stdin: Array(Self.trace.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.text == Self.linux)
    }

    @Test("--allocator linux61: 6.1's endless scan is a hang (JSON \"hang\": true, text names the function); reference fails it")
    func linux61() async throws {
        let input = Array(BootLinuxCommandTests.hangTrace.utf8)
        let json = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--json", "--allocator", "linux61"], stdin: input)
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.text.contains(#"{"i": 188, "op": "map", "id": 128, "ok": false, "hang": true, "used_after": 64}"#))
        let text = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--allocator", "linux61"], stdin: input)
        #expect(text.text.contains("op 188 map id 128: hangs (swiotlb_do_find_slots, Linux 6.1)"), "\(text.text)")
        let reference = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--json"], stdin: input)
        #expect(!reference.text.contains("hang"))
        #expect(reference.text.contains(#"{"i": 188, "op": "map", "id": 128, "ok": false, "used_after": 64}"#))
    }

    @Test("the text form prints each map's address or failure and a summary")
    func text() async throws {
        let r = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--allocator", "fast"], stdin: Array(Self.trace.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.text.contains("default op 1 map id 2: failed (used "))
        #expect(r.text.contains("default: 2 mapped, 1 failed, 2 unmapped, 32 slots used at the end (fast allocator)"))
    }

    @Test("malformed input exits 2 naming the op; a bad allocator exits 2")
    func badInput() async throws {
        let bad = #"{"pool": {"start": 0, "nslabs": 128}, "ops": [{"op": "map", "id": 1, "orig_addr": 0, "size": 1}, {"op": "unmap", "id": 9}]}"#
        let r = try await FDTCLIRunner.run(["swiotlb", "replay", "-"], stdin: Array(bad.utf8))
        #expect(r.status == 2)
        #expect(r.stderr.contains("op 1: unmap id 9"))
        let a = try await FDTCLIRunner.run(["swiotlb", "replay", "-", "--allocator", "slow"], stdin: Array(Self.trace.utf8))
        #expect(a.status == 2 && a.stderr.contains("--allocator slow"))
        #expect(try await FDTCLIRunner.run(["swiotlb", "replay"]).status == 64)
    }
}
