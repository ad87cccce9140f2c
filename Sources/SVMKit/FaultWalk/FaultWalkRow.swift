/// One scenario's result in a ``FaultWalkReport``: the site, the status injected there,
/// and how the run ended.
public struct FaultWalkRow: Hashable, Sendable, Codable {
    /// The scenario's number in the whole walk (sites in baseline order, then statuses
    /// in ``FaultWalkStatuses`` order), from 0: what shards and merges order by.
    public var index: Int
    /// The site, e.g. `boot/guest:UV_SHARE_PAGE#2`.
    public var site: String
    /// The calls the site was made under, e.g. `UV_ESM#1 > H_SVM_INIT_START`.
    public var context: String
    /// The status injected, e.g. `U_P2`.
    public var status: String
    /// The site's phase.
    public var phase: FaultWalkPhase
    /// How the run ended.
    public var outcome: FaultWalkOutcome
    /// What the run found, in words: the os-term message, guest faults, diagnoses,
    /// findings about Linux, broken invariants.
    public var diagnosis: [String]
    /// Which expectation explains the outcome (``FaultWalkExpectations``), or nil: a
    /// new, unexplained outcome.
    public var explainedBy: String?
    /// The fault rule that reproduces it with `svmkit boot --faults` (whole-run count).
    public var rule: String

    /// Makes a row.
    public init(
        index: Int, site: String, context: String, status: String, phase: FaultWalkPhase, outcome: FaultWalkOutcome,
        diagnosis: [String], explainedBy: String?, rule: String
    ) {
        self.index = index
        self.site = site
        self.context = context
        self.status = status
        self.phase = phase
        self.outcome = outcome
        self.diagnosis = diagnosis
        self.explainedBy = explainedBy
        self.rule = rule
    }

    /// Whether the row fails a walk: an invariant broken, or an outcome no expectation explains.
    public var fails: Bool { outcome == .invariantBroken || explainedBy == nil }
}
