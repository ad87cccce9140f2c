import SVMKit

/// The text `svmkit faults walk` and `merge` print without `--json`: totals by outcome,
/// then a table of sites by outcome, failing rows (invariant broken or unexplained) in full.
enum FaultsSummary {
    /// The summary of `report`.
    static func render(_ report: FaultWalkReport) -> String {
        var lines: [String] = []
        let counts = report.countsByOutcome
        lines.append("fault walk: \(report.walk)")
        lines.append(
            "\(report.sites) call sites, \(report.scenarios.count) of \(report.scenarioCount) scenarios"
                + (report.shards.isEmpty ? "" : " (shard \(report.shards.joined(separator: ", ")))") + ": "
                + FaultWalkOutcome.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", "))
        lines.append("baseline: \(report.baseline.outcome.rawValue)" + diagnosisSuffix(report.baseline))
        // One line per (phase, caller:opcode) and outcome: how many sites × statuses.
        var groups: [String: [FaultWalkOutcome: Int]] = [:]
        var order: [String] = []
        for r in report.scenarios.sorted(by: { $0.index < $1.index }) {
            let key = r.site.split(separator: "#").first.map(String.init) ?? r.site
            if groups[key] == nil { order.append(key) }
            groups[key, default: [:]][r.outcome, default: 0] += 1
        }
        lines.append("")
        lines.append(pad("site", 44) + FaultWalkOutcome.allCases.map { pad($0.rawValue, 17) }.joined())
        for key in order {
            let g = groups[key] ?? [:]
            lines.append(pad(key, 44) + FaultWalkOutcome.allCases.map { pad("\(g[$0] ?? 0)", 17) }.joined())
        }
        let failing = report.scenarios.filter(\.fails)
        if !failing.isEmpty {
            lines.append("")
            lines.append("\(failing.count) scenario(s) fail the walk (invariant broken, or no expectation explains them):")
            for r in failing.prefix(50) {
                lines.append("  \(r.outcome.rawValue) \(r.site) = \(r.status) [\(r.rule)]" + diagnosisSuffix(r))
            }
            if failing.count > 50 { lines.append("  … and \(failing.count - 50) more (--json has them all)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func diagnosisSuffix(_ r: FaultWalkRow) -> String {
        r.diagnosis.isEmpty ? "" : ": " + r.diagnosis.prefix(3).joined(separator: " / ")
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
