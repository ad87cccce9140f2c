/// The results of replaying a trace: per scenario, one ``SWIOTLBReplayResult`` per op.
public struct SWIOTLBReplayReport: Sendable, Hashable {
    /// One scenario's results.
    public struct Scenario: Sendable, Hashable {
        /// The scenario's name.
        public var name: String
        /// One result per op, in input order.
        public var results: [SWIOTLBReplayResult]

        /// Results for a named scenario.
        public init(name: String, results: [SWIOTLBReplayResult]) {
            self.name = name
            self.results = results
        }

        /// Maps that succeeded, maps that failed, unmaps.
        public var counts: (mapped: Int, failed: Int, unmapped: Int) {
            var counts = (mapped: 0, failed: 0, unmapped: 0)
            for r in results {
                if !r.isMap {
                    counts.unmapped += 1
                } else if r.ok {
                    counts.mapped += 1
                } else {
                    counts.failed += 1
                }
            }
            return counts
        }
    }

    /// The scenarios, in input order.
    public var scenarios: [Scenario]

    /// A report of the given scenarios.
    public init(scenarios: [Scenario]) {
        self.scenarios = scenarios
    }

    /// `svmkit swiotlb replay --json`'s output, byte for byte what
    /// `Scripts/linux-oracle replay` prints for the same trace:
    /// `{"scenarios": [{"name", "results": [{"i", "op", "id", "ok", "tlb_addr", "used_after"}]}]}`
    /// with one result per line.
    public var json: String {
        var out = "{\"scenarios\": [\n"
        for (n, scenario) in scenarios.enumerated() {
            out += "{\"name\": \(Self.quote(scenario.name)), \"results\": [\n"
            for (i, r) in scenario.results.enumerated() {
                out += r.json + (i + 1 < scenario.results.count ? ",\n" : "\n")
            }
            out += "]}" + (n + 1 < scenarios.count ? ",\n" : "\n")
        }
        return out + "]}\n"
    }

    /// A JSON string literal, escaped as the oracle escapes it.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
