/// One rule saying which fault-walk outcome Linux is expected to give, and why (the
/// real code that makes it so). ``FaultWalkExpectations/explain(_:using:)`` uses them:
/// a terminated row is explained by a rule matching its halt reason (its first
/// diagnosis line), a damaged row when every line of its diagnosis is matched.
public struct FaultWalkExpectation: Hashable, Sendable {
    /// A short name, shown in a row's `explainedBy`.
    public let name: String
    /// The outcome it covers.
    public let outcome: FaultWalkOutcome
    /// The text a diagnosis line must contain; empty: any line (for `handled`, which
    /// has none).
    public let line: String
    /// Another text the row's diagnosis must also contain somewhere (the line is a
    /// consequence of it), or nil.
    public let because: String?
    /// Why Linux ends so, citing the real code (file: function (version)).
    public let linux: String

    /// Makes a rule.
    public init(_ name: String, outcome: FaultWalkOutcome, line: String = "", because: String? = nil, linux: String) {
        self.name = name
        self.outcome = outcome
        self.line = line
        self.because = because
        self.linux = linux
    }

    /// Whether the rule explains `line` of `row`.
    public func explains(line text: String, of row: FaultWalkRow) -> Bool {
        guard row.outcome == outcome, outcome != .invariantBroken else { return false }
        guard line.isEmpty || text.contains(line) else { return false }
        if let because, !row.diagnosis.contains(where: { $0.contains(because) }) { return false }
        return true
    }
}
