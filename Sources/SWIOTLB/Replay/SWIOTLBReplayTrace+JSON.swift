#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// Writing a trace in the replay format that ``SWIOTLBReplayTrace/init(json:)`` reads.
extension SWIOTLBReplayTrace {
    /// The trace as `{"scenarios": [...]}` JSON, one operation per line; addresses and
    /// masks as `"0x…"` strings.
    public var jsonText: String {
        var out = "{\"scenarios\": [\n"
        for (i, scenario) in scenarios.enumerated() {
            let p = scenario.pool
            out += "{\"name\": \(Self.quoted(scenario.name)), \"pool\": {\"start\": \"\(hex(p.start))\", "
            out += "\"nslabs\": \(p.nslabs), \"nareas\": \(p.nareas), \"page_size\": \(p.pageSize)},\n \"ops\": ["
            for (k, op) in scenario.ops.enumerated() {
                out += k == 0 ? "\n  " : ",\n  "
                switch op {
                case .map(let m):
                    out += "{\"op\": \"map\", \"id\": \(m.id), \"orig_addr\": \"\(hex(m.origAddr))\", \"size\": \(m.size), "
                    out += "\"alloc_align_mask\": \"\(hex(m.allocAlignMask))\", \"min_align_mask\": \"\(hex(m.minAlignMask))\", "
                    out += "\"seg_boundary_mask\": \"\(hex(m.segBoundaryMask))\", \"cpu\": \(m.cpu)}"
                case .unmap(let id):
                    out += "{\"op\": \"unmap\", \"id\": \(id)}"
                }
            }
            out += scenario.ops.isEmpty ? "]}" : "\n ]}"
            out += i == scenarios.count - 1 ? "\n" : ",\n"
        }
        return out + "]}\n"
    }

    /// A JSON string literal (JSONEncoder's escaping).
    private static func quoted(_ s: String) -> String {
        guard let data = try? JSONEncoder().encode(s) else { return "\"\"" }
        return String(decoding: data, as: UTF8.self)
    }
}
