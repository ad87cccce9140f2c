import Foundation
import SWIOTLB

/// The SWIOTLB half of the harness: writes a trace as JSON, runs `swiotlb-replay`
/// (Linux's allocator), and finds the first op whose result differs.
enum OracleReplay {
    /// The trace in the replay format, numbers as "0x…" strings where they are addresses.
    static func json(_ trace: SWIOTLBReplayTrace) -> String {
        func hex(_ v: UInt64) -> String { "\"0x\(String(v, radix: 16))\"" }
        var out = "{\"scenarios\": [\n"
        for (n, s) in trace.scenarios.enumerated() {
            out += "{\"name\": \"\(s.name)\", \"pool\": {\"start\": \(hex(s.pool.start)), \"nslabs\": \(s.pool.nslabs), "
            out += "\"nareas\": \(s.pool.nareas), \"page_size\": \(s.pool.pageSize)}, \"ops\": [\n"
            for (i, op) in s.ops.enumerated() {
                switch op {
                case .map(let m):
                    out += "{\"op\": \"map\", \"id\": \(m.id), \"orig_addr\": \(hex(m.origAddr)), \"size\": \(m.size), "
                    out += "\"alloc_align_mask\": \(hex(m.allocAlignMask)), \"min_align_mask\": \(hex(m.minAlignMask)), "
                    out += "\"seg_boundary_mask\": \(hex(m.segBoundaryMask)), \"cpu\": \(m.cpu)}"
                case .unmap(let id):
                    out += "{\"op\": \"unmap\", \"id\": \(id)}"
                }
                out += i + 1 < s.ops.count ? ",\n" : "\n"
            }
            out += "]}" + (n + 1 < trace.scenarios.count ? ",\n" : "\n")
        }
        return out + "]}\n"
    }

    /// `swiotlb-replay` on the trace: Linux's results, in the `--json` format.
    static func run(
        _ trace: SWIOTLBReplayTrace, version: String = "6.12", environment: [String: String] = [:]
    ) async throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString).json")
        try Data(json(trace).utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await LinuxOracle.run("swiotlb-replay", [file.path], version: version, environment: environment)
    }

    /// `nil` when both outputs are the same; otherwise the first differing op, both results and the op itself.
    static func firstDifference(_ ours: String, _ linux: String, trace: SWIOTLBReplayTrace) -> String? {
        if ours == linux { return nil }
        let a = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let b = linux.split(separator: "\n", omittingEmptySubsequences: false)
        var scenario = -1
        for k in 0..<max(a.count, b.count) {
            let x = k < a.count ? String(a[k]) : "<end>", y = k < b.count ? String(b[k]) : "<end>"
            if x.hasPrefix("{\"name\"") { scenario += 1 }
            guard x != y else { continue }
            var op = ""
            if scenario >= 0, scenario < trace.scenarios.count, let r = x.range(of: "\"i\": ") {
                let index = Int(x[r.upperBound...].prefix { $0.isNumber }) ?? -1
                if index >= 0, index < trace.scenarios[scenario].ops.count {
                    op = "\n  op: \(trace.scenarios[scenario].ops[index])"
                }
            }
            let name = scenario >= 0 && scenario < trace.scenarios.count ? trace.scenarios[scenario].name : "?"
            return "first differing op in scenario \(name):\n  SVMKit: \(x)\n  Linux:  \(y)\(op)"
        }
        return "outputs differ"
    }
}
