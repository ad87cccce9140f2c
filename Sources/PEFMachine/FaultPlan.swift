import PowerABI
import Locking
import Synchronization

/// A seeded plan of faults: which ultracalls and hypercalls return a chosen status
/// instead of reaching their handler (or, for share ranges, stop part way).
///
/// The router asks the plan about every `sc 1` and `sc 2` it routes, including the
/// calls the Ultravisor and the hypervisor make to each other; a plan with no rules
/// costs one atomic load per call. The reliability issue's `--faults SPEC` is parsed
/// by ``init(spec:seed:)`` (grammar in ``FaultSpecParser``).
public final class FaultPlan: Sendable {
    /// Decides a call's fault before the rules are consulted: a fault walk's
    /// copy-on-write mode forks its baseline here (issue 21 item 3).
    public typealias Chooser = @Sendable (_ level: CallLevel, _ number: UInt64, _ caller: Caller) -> FaultRule.Action?

    private struct State: Sendable {
        var chooser: Chooser?
        var rules: [FaultRule]
        var matches: [Int]
        var generator: Xoshiro256StarStar
        var injections: [FaultInjection] = []
    }

    private let state: Lock<State>
    private let hasRules: Atomic<Bool>

    /// A plan with these rules; `seed` drives the probability triggers.
    public init(rules: [FaultRule] = [], seed: UInt64 = 0) {
        state = Lock(
            State(
                rules: rules, matches: [Int](repeating: 0, count: rules.count),
                generator: Xoshiro256StarStar(seed: seed ^ 0xFA17_FA17_FA17_FA17)))
        hasRules = Atomic(!rules.isEmpty)
    }

    /// A plan from its textual form, e.g. `UV_SHARE_PAGE@2=U_P2,H_SVM_PAGE_IN@*=H_BUSY`.
    /// - Throws: ``FaultSpecError`` naming the bad rule and what is wrong with it.
    public convenience init(spec: String, seed: UInt64 = 0) throws(FaultSpecError) {
        self.init(rules: try FaultSpecParser.parse(spec), seed: seed)
    }

    /// Adds a rule (its count of matching calls starts at zero).
    public func add(_ rule: FaultRule) {
        state.withLock { s in
            s.rules.append(rule)
            s.matches.append(0)
        }
        hasRules.store(true, ordering: .releasing)
    }

    /// Sets (or, with nil, removes) the chooser: called for every call, outside the
    /// plan's lock, before the rules; an action it returns is injected and logged as a
    /// rule's would be (its rule text is `chooser`), and the rules are not counted.
    public func setChooser(_ chooser: Chooser?) {
        let hasRules = state.withLock { s in
            s.chooser = chooser
            return chooser != nil || !s.rules.isEmpty
        }
        self.hasRules.store(hasRules, ordering: .releasing)
    }

    /// The rules.
    public var rules: [FaultRule] { state.withLock { $0.rules } }

    /// Every fault injected so far, in order.
    public var injections: [FaultInjection] { state.withLock { $0.injections } }

    /// Counts this call against every rule that names it and returns the action of the
    /// first rule that fires, if any.
    public func evaluate(level: CallLevel, number: UInt64, caller: Caller) -> FaultRule.Action? {
        guard hasRules.load(ordering: .acquiring) else { return nil }
        if let chooser = state.withLock({ $0.chooser }), let action = chooser(level, number, caller) {
            state.withLock { s in
                s.injections.append(
                    FaultInjection(
                        rule: "chooser", opcode: CallSignature.name(level: level, number: number), caller: caller,
                        occurrence: 0, action: action))
            }
            return action
        }
        return state.withLock { s in
            var fired: FaultRule.Action?
            for i in s.rules.indices where s.rules[i].matches(level: level, number: number, caller: caller.kind) {
                s.matches[i] += 1
                let n = s.matches[i]
                let fires: Bool
                switch s.rules[i].trigger {
                case .nth(let k): fires = n == k
                case .range(let a, let b): fires = n >= a && n <= b
                case .from(let k): fires = n >= k
                case .every: fires = true
                case .probability(let p): fires = Double(s.generator.next() >> 11) * 0x1.0p-53 < p
                }
                if fires && fired == nil {
                    fired = s.rules[i].action
                    s.injections.append(
                        FaultInjection(
                            rule: s.rules[i].description,
                            opcode: CallSignature.name(level: level, number: number), caller: caller, occurrence: n,
                            action: s.rules[i].action))
                }
            }
            return fired
        }
    }
}
