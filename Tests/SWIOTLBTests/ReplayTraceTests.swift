import SWIOTLB
import Testing

@Suite("Replay trace format")
struct ReplayTraceTests {
    private func decode(_ text: String) throws(SWIOTLBReplayError) -> SWIOTLBReplayTrace {
        try SWIOTLBReplayTrace(json: Array(text.utf8))
    }

    @Test("a single scenario with numbers and 0x strings, defaults filled in")
    func singleScenario() throws {
        let trace = try decode(
            """
            {"pool": {"start": "0x4000000", "nslabs": 32768, "nareas": 4, "page_size": 4096, "extra": 1},
             "ops": [
               {"op": "map", "id": 1, "orig_addr": "0x9000801", "size": 4096, "min_align_mask": "0xfff",
                "seg_boundary_mask": "0xffffffff", "cpu": 3, "comment": "ignored"},
               {"op": "map", "id": "0x2", "orig_addr": 16, "size": 100},
               {"op": "unmap", "id": 1}
             ]}
            """)
        #expect(trace.scenarios.count == 1)
        let s = trace.scenarios[0]
        #expect(s.name == "default")
        #expect(s.pool == SWIOTLBReplayPool(start: 0x400_0000, nslabs: 32768, nareas: 4, pageSize: 4096))
        #expect(
            s.ops[0]
                == .map(
                    SWIOTLBReplayMap(
                        id: 1, origAddr: 0x900_0801, size: 4096, minAlignMask: 0xfff, segBoundaryMask: 0xffff_ffff,
                        cpu: 3)))
        #expect(s.ops[1] == .map(SWIOTLBReplayMap(id: 2, origAddr: 16, size: 100)))
        #expect(s.ops[2] == .unmap(id: 1))
    }

    @Test("a list of named scenarios; pool defaults are one area and 64 KiB pages")
    func scenarios() throws {
        let trace = try decode(
            """
            {"scenarios": [
              {"name": "a", "pool": {"start": 0, "nslabs": 128}, "ops": []},
              {"name": "b", "pool": {"start": "0x10000", "nslabs": "0x800", "nareas": 2},
               "ops": [{"op": "map", "id": 18446744073709551615, "orig_addr": "0xffffffffffff0000", "size": 1}]}
            ]}
            """)
        #expect(trace.scenarios.map(\.name) == ["a", "b"])
        #expect(trace.scenarios[0].pool == SWIOTLBReplayPool(start: 0, nslabs: 128, nareas: 1, pageSize: 65536))
        #expect(trace.scenarios[1].ops == [.map(SWIOTLBReplayMap(id: .max, origAddr: 0xffff_ffff_ffff_0000, size: 1))])
    }

    @Test(
        "malformed ops name their scenario and index",
        arguments: [
            (#"{"op": "map", "id": 1, "size": 4}"#, "orig_addr"),
            (#"{"op": "map", "id": 1, "orig_addr": "0xZZ", "size": 4}"#, "0xZZ"),
            (#"{"op": "map", "id": 1, "orig_addr": -1, "size": 4}"#, "non-negative"),
            (#"{"op": "remap", "id": 1}"#, "remap"),
            (#"{"op": "unmap", "id": 7}"#, "unmap id 7"),
            (#"{"op": "map", "id": 1, "orig_addr": 0, "size": 4, "alloc_align_mask": 6}"#, "alloc_align_mask"),
            (#"{"op": "map", "id": 1, "orig_addr": 0, "size": 0}"#, "size 0"),
            (#"{"op": "map", "id": 1, "orig_addr": 0, "size": 4, "seg_boundary_mask": 255}"#, "seg_boundary_mask"),
        ])
    func badOperation(op: String, mention: String) throws {
        let text = """
            {"scenarios": [{"pool": {"start": 0, "nslabs": 128}, "ops": []},
              {"pool": {"start": 0, "nslabs": 128}, "ops": [
                {"op": "map", "id": 9, "orig_addr": 0, "size": 1}, \(op)]}]}
            """
        let error = #expect(throws: SWIOTLBReplayError.self) { try decode(text) }
        guard case .invalidOperation(scenario: 1, index: 1, let reason) = error else {
            Issue.record("wrong error \(String(describing: error))")
            return
        }
        #expect(reason.contains(mention), "\(reason)")
        #expect(error?.description.contains("scenario 1: op 1:") == true)
    }

    @Test("an id may be reused after its unmap, not while it is live")
    func idReuse() throws {
        let pool = #""pool": {"start": 0, "nslabs": 128}"#
        let map = #"{"op": "map", "id": 5, "orig_addr": 0, "size": 1}"#
        _ = try decode("{\(pool), \"ops\": [\(map), {\"op\": \"unmap\", \"id\": 5}, \(map)]}")
        #expect(throws: SWIOTLBReplayError.invalidOperation(scenario: 0, index: 1, reason: "map id 5 is still mapped by an earlier op")) {
            try decode("{\(pool), \"ops\": [\(map), \(map)]}")
        }
    }

    @Test(
        "pools that cannot be replayed are refused",
        arguments: [
            #"{"start": 0, "nslabs": 100}"#, #"{"start": 4096, "nslabs": 128}"#,
            #"{"start": 0, "nslabs": 384, "nareas": 2}"#, #"{"start": 0, "nslabs": 128, "page_size": 3000}"#,
            #"{"nslabs": 128}"#,
            // A power-of-two nareas so large that nareas * 128 overflowed (the reader trapped).
            #"{"start": 0, "nslabs": 256, "nareas": 4611686018427387904}"#,
            // 2^25 slots: above maximumSlots (2^30 was accepted and took ~19 GiB to replay).
            #"{"start": 0, "nslabs": 33554432}"#,
        ])
    func badPool(pool: String) {
        #expect {
            try decode("{\"pool\": \(pool), \"ops\": []}")
        } throws: { error in
            guard case SWIOTLBReplayError.invalidPool(scenario: 0, _) = error else { return false }
            return true
        }
    }

    @Test("text that is not a trace is malformed")
    func notATrace() {
        #expect(throws: SWIOTLBReplayError.self) { try decode("[1, 2]") }
        #expect(throws: SWIOTLBReplayError.self) { try decode("{") }
    }
}
