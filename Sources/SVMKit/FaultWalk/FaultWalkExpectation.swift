/// One rule saying which fault-walk outcomes Linux is expected to give, and why: a
/// row it matches is explained (``FaultWalkRow/explainedBy``).
public struct FaultWalkExpectation: Hashable, Sendable {
    /// A short name, shown in a row's `explainedBy`.
    public let name: String
    /// The outcome it expects.
    public let outcome: FaultWalkOutcome
    /// Site callers it covers (`guest`, `uv`, `hv`); empty: every caller.
    public let callers: Set<String>
    /// Opcodes it covers (C names); empty: every opcode.
    public let opcodes: Set<String>
    /// Statuses it covers (C names); empty: every status.
    public let statuses: Set<String>
    /// A text the diagnosis must contain; nil: any diagnosis.
    public let diagnosisContains: String?
    /// Why Linux ends so, citing the real code (file: function (version)).
    public let linux: String

    /// Makes a rule.
    public init(
        _ name: String, outcome: FaultWalkOutcome, callers: Set<String> = [], opcodes: Set<String> = [],
        statuses: Set<String> = [], diagnosisContains: String? = nil, linux: String
    ) {
        self.name = name
        self.outcome = outcome
        self.callers = callers
        self.opcodes = opcodes
        self.statuses = statuses
        self.diagnosisContains = diagnosisContains
        self.linux = linux
    }

    /// Whether the rule explains `row`.
    public func explains(_ row: FaultWalkRow) -> Bool {
        guard row.outcome == outcome, outcome != .invariantBroken else { return false }
        // site: phase/caller:OPCODE#n
        let afterPhase = row.site.split(separator: "/", maxSplits: 1).last ?? ""
        let parts = afterPhase.split(separator: ":", maxSplits: 1)
        let caller = parts.first.map(String.init) ?? ""
        let opcode = parts.last.map { String($0.split(separator: "#").first ?? "") } ?? ""
        if !callers.isEmpty && !callers.contains(caller) { return false }
        if !opcodes.isEmpty && !opcodes.contains(opcode) { return false }
        if !statuses.isEmpty && !statuses.contains(row.status) { return false }
        if let text = diagnosisContains, !row.diagnosis.contains(where: { $0.contains(text) }) { return false }
        return true
    }
}
