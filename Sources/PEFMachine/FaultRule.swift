import PowerABI

/// One rule of a ``FaultPlan``: which calls it hits, when, and what they return instead.
public struct FaultRule: Hashable, Sendable, CustomStringConvertible {
    /// The opcode the rule hits.
    public enum Opcode: Hashable, Sendable {
        /// An ultracall (`sc 2`).
        case ultracall(Ultracall)
        /// A hypercall (`sc 1`), whoever makes it.
        case hypercall(Hypercall)

        /// The C name.
        public var name: String {
            switch self {
            case .ultracall(let u): u.name
            case .hypercall(let h): h.name
            }
        }
    }

    /// Which matching calls the rule fires on, counting from 1.
    public enum Trigger: Hashable, Sendable {
        /// Only the Nth matching call.
        case nth(Int)
        /// The Nth through Mth matching calls.
        case range(Int, Int)
        /// The Nth matching call and every later one.
        case from(Int)
        /// Every matching call.
        case every
        /// Each matching call with this probability (0…1), drawn from the plan's
        /// seeded generator.
        case probability(Double)
    }

    /// What the call does instead.
    public enum Action: Hashable, Sendable {
        /// Return this status (r3) without reaching the handler.
        case status(Int64)
        /// For `UV_SHARE_PAGE` and `UV_UNSHARE_PAGE`: process only the first `pages`
        /// pages of the range, then return `status`. The real Ultravisor reverts a
        /// share that fails part way (reference/ultravisor-facts.md §5.2); this action
        /// deliberately does not, to test that a guest never assumes the rest of the
        /// range changed. Other opcodes treat it as ``status(_:)``.
        case partial(pages: Int, status: Int64)

        /// The status the caller ends up with.
        public var status: Int64 {
            switch self {
            case .status(let s), .partial(_, let s): s
            }
        }
    }

    /// The opcode.
    public var opcode: Opcode
    /// Only calls from this kind of caller, or any caller if `nil`.
    public var caller: Caller.Kind?
    /// When.
    public var trigger: Trigger
    /// What instead.
    public var action: Action

    /// Makes a rule.
    public init(opcode: Opcode, caller: Caller.Kind? = nil, trigger: Trigger, action: Action) {
        self.opcode = opcode
        self.caller = caller
        self.trigger = trigger
        self.action = action
    }

    /// Whether the rule names this call.
    func matches(level: CallLevel, number: UInt64, caller kind: Caller.Kind) -> Bool {
        if let c = caller, c != kind { return false }
        switch opcode {
        case .ultracall(let u): return level == .sc2 && u.rawValue == number
        case .hypercall(let h): return level == .sc1 && h.rawValue == number
        }
    }

    /// The rule in the textual form ``FaultPlan/init(spec:seed:)`` reads.
    public var description: String {
        var s = caller.map { "\($0.rawValue):" } ?? ""
        s += opcode.name + "@"
        switch trigger {
        case .nth(let n): s += "\(n)"
        case .range(let a, let b): s += "\(a)-\(b)"
        case .from(let n): s += "\(n)+"
        case .every: s += "*"
        case .probability(let p): s += "\(p * 100)%"
        }
        let statusName: (Int64) -> String = { v in
            if case .ultracall = opcode { return UltravisorStatus(rawValue: v).name }
            return HypervisorStatus(rawValue: v).name
        }
        switch action {
        case .status(let v): s += "=" + statusName(v)
        case .partial(let pages, let v): s += "=" + statusName(v) + ":after=\(pages)"
        }
        return s
    }
}

/// A fault the plan injected.
public struct FaultInjection: Hashable, Sendable {
    /// The rule's text.
    public let rule: String
    /// The call's C name.
    public let opcode: String
    /// Who called.
    public let caller: Caller
    /// Which matching call it was (from 1).
    public let occurrence: Int
    /// What was injected.
    public let action: FaultRule.Action
}
