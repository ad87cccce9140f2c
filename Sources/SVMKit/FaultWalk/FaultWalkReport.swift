/// What a fault walk (or one shard of it) found: `svmkit faults walk --json`'s output
/// and `svmkit faults merge`'s input and output.
public struct FaultWalkReport: Hashable, Sendable, Codable {
    /// How many call sites the baseline had (every site, whichever shard this is).
    public var sites: Int
    /// How many scenarios the whole walk has (every shard together).
    public var scenarioCount: Int
    /// What was walked: the guest, its command line, the phases and the seed; shards of
    /// one walk carry the same text, and merge refuses to join different walks.
    public var walk: String
    /// The shards this report holds, e.g. `["1/4"]`; empty for a whole walk.
    public var shards: [String]
    /// The baseline run (no fault), judged as a scenario is.
    public var baseline: FaultWalkRow
    /// One row per scenario run, invariant-broken first, then in index order.
    public var scenarios: [FaultWalkRow]

    /// Makes a report; rows are put in report order.
    public init(sites: Int, scenarioCount: Int, walk: String, shards: [String], baseline: FaultWalkRow, scenarios: [FaultWalkRow]) {
        self.sites = sites
        self.scenarioCount = scenarioCount
        self.walk = walk
        self.shards = shards
        self.baseline = baseline
        self.scenarios = Self.ordered(scenarios)
    }

    /// Invariant-broken rows first, then by index.
    static func ordered(_ rows: [FaultWalkRow]) -> [FaultWalkRow] {
        rows.sorted {
            ($0.outcome == .invariantBroken ? 0 : 1, $0.index) < ($1.outcome == .invariantBroken ? 0 : 1, $1.index)
        }
    }

    /// Whether the walk fails: an invariant broken, or an outcome no expectation explains
    /// (in a scenario or in the baseline).
    public var fails: Bool { baseline.fails || scenarios.contains(where: \.fails) }

    /// Rows per outcome.
    public var countsByOutcome: [FaultWalkOutcome: Int] {
        var out: [FaultWalkOutcome: Int] = [:]
        for r in scenarios { out[r.outcome, default: 0] += 1 }
        return out
    }

    /// Joins the reports of shards of one walk into the report an unsharded run gives.
    /// - Throws: ``FaultWalkMergeError`` when the reports come from different walks, a
    ///   scenario appears twice, or scenarios are missing.
    public static func merge(_ reports: [(name: String, report: FaultWalkReport)]) throws(FaultWalkMergeError) -> FaultWalkReport {
        guard let first = reports.first else { throw .nothingToMerge }
        var rows: [Int: FaultWalkRow] = [:]
        for (name, r) in reports {
            guard r.walk == first.report.walk, r.sites == first.report.sites, r.scenarioCount == first.report.scenarioCount
            else { throw .differentWalk(name: name, walk: r.walk, expected: first.report.walk) }
            for row in r.scenarios {
                guard rows.updateValue(row, forKey: row.index) == nil else {
                    throw .duplicate(name: name, scenario: row.index)
                }
            }
        }
        let missing = (0..<first.report.scenarioCount).filter { rows[$0] == nil }
        guard missing.isEmpty else { throw .missing(count: missing.count, first: missing[0]) }
        return FaultWalkReport(
            sites: first.report.sites, scenarioCount: first.report.scenarioCount, walk: first.report.walk, shards: [],
            baseline: first.report.baseline, scenarios: Array(rows.values))
    }
}

/// Why ``FaultWalkReport/merge(_:)`` refused its inputs.
public enum FaultWalkMergeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No report given.
    case nothingToMerge
    /// A report from another walk (another guest, command line, phases or seed).
    case differentWalk(name: String, walk: String, expected: String)
    /// A scenario in two reports (the same shard given twice?).
    case duplicate(name: String, scenario: Int)
    /// Scenarios no report holds (a shard missing).
    case missing(count: Int, first: Int)

    /// In words, naming the input.
    public var description: String {
        switch self {
        case .nothingToMerge: "no report to merge"
        case .differentWalk(let name, let walk, let expected): "\(name): a different walk (\(walk)), not \(expected)"
        case .duplicate(let name, let scenario): "\(name): scenario \(scenario) is already in another report"
        case .missing(let count, let first):
            "\(count) scenario(s) are in no report (the first is \(first)): a shard is missing"
        }
    }
}
