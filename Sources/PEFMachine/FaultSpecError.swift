/// Why a fault spec (``FaultPlan/init(spec:seed:)``) could not be read.
public struct FaultSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public enum Problem: Hashable, Sendable {
        /// A rule between commas is empty.
        case emptyRule
        /// No `@` between the opcode and the trigger.
        case missingTrigger
        /// No `=` between the trigger and the status.
        case missingAction
        /// The caller prefix is not `guest`, `hv`, `hypervisor`, `uv` or `ultravisor`.
        case unknownCaller(String)
        /// Not an ultracall or hypercall SVMKit knows by name, nor `UV_0x…`/`H_0x…`.
        case unknownOpcode(String)
        /// The trigger is not `N`, `N-M`, `N+`, `*` or `P%`.
        case badTrigger(String)
        /// Occurrences count from 1.
        case zeroOccurrence
        /// A probability outside 0…100 %.
        case badProbability(String)
        /// Not a `U_*`/`H_*` name or an integer.
        case unknownStatus(String)
        /// `:after=K` needs a count K ≥ 0, and only share/unshare ranges take it.
        case badPartial(String)
    }

    /// The rule as written.
    public let rule: String
    /// What is wrong with it.
    public let problem: Problem

    /// Makes an error.
    public init(rule: String, problem: Problem) {
        self.rule = rule
        self.problem = problem
    }

    /// e.g. `fault rule "UV_SHARE@1=U_P2": unknown opcode "UV_SHARE"`.
    public var description: String {
        let what: String
        switch problem {
        case .emptyRule: what = "empty rule"
        case .missingTrigger: what = "missing '@' and a trigger (N, N-M, N+, * or P%)"
        case .missingAction: what = "missing '=' and a status"
        case .unknownCaller(let c): what = "unknown caller \"\(c)\" (guest, hv or uv)"
        case .unknownOpcode(let o): what = "unknown opcode \"\(o)\""
        case .badTrigger(let t): what = "bad trigger \"\(t)\" (N, N-M, N+, * or P%)"
        case .zeroOccurrence: what = "occurrences count from 1"
        case .badProbability(let p): what = "bad probability \"\(p)\" (0% to 100%)"
        case .unknownStatus(let s): what = "unknown status \"\(s)\" (a U_*/H_* name or an integer)"
        case .badPartial(let p): what = "bad partial progress \"\(p)\" (':after=K' on UV_SHARE_PAGE/UV_UNSHARE_PAGE)"
        }
        return "fault rule \"\(rule)\": \(what)"
    }
}
