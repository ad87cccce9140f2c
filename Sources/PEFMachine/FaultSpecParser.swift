import PowerABI

/// Reads the textual form of a ``FaultPlan``.
///
/// ```
/// SPEC    := RULE ("," RULE)*
/// RULE    := [CALLER ":"] OPCODE "@" TRIGGER "=" STATUS [":after=" K]
/// CALLER  := guest | hv | hypervisor | uv | ultravisor
/// OPCODE  := a UV_* or H_* name (UV_SHARE_PAGE, H_SVM_PAGE_IN …), or UV_0x… / H_0x…
/// TRIGGER := N        the Nth matching call
///          | N-M      the Nth through Mth
///          | N+       the Nth and every later one
///          | *        every one
///          | P%       each with probability P percent (seeded)
/// STATUS  := a U_* or H_* name, or a signed integer (decimal or 0x…)
/// K       := pages to process before stopping (share/unshare ranges only)
/// ```
///
/// Example: `UV_SHARE_PAGE@2=U_P2,uv:H_SVM_PAGE_IN@*=H_BUSY,UV_SHARE_PAGE@1=U_BUSY:after=3`.
public enum FaultSpecParser {
    /// Parses a whole spec; an empty or all-blank spec gives no rules.
    public static func parse(_ spec: String) throws(FaultSpecError) -> [FaultRule] {
        let trimmed = spec.trimmingWhitespace
        guard !trimmed.isEmpty else { return [] }
        var rules: [FaultRule] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            rules.append(try parseRule(String(part).trimmingWhitespace))
        }
        return rules
    }

    /// Parses one rule.
    public static func parseRule(_ text: String) throws(FaultSpecError) -> FaultRule {
        func fail(_ p: FaultSpecError.Problem) -> FaultSpecError { FaultSpecError(rule: text, problem: p) }
        guard !text.isEmpty else { throw fail(.emptyRule) }
        guard let at = text.firstIndex(of: "@") else { throw fail(.missingTrigger) }
        guard let eq = text[at...].firstIndex(of: "=") else { throw fail(.missingAction) }
        var head = String(text[..<at])
        let triggerText = String(text[text.index(after: at)..<eq])
        let actionText = String(text[text.index(after: eq)...])

        var caller: Caller.Kind?
        if let colon = head.firstIndex(of: ":") {
            let c = head[..<colon].lowercased()
            switch c {
            case "guest": caller = .guest
            case "hv", "hypervisor": caller = .hypervisor
            case "uv", "ultravisor": caller = .ultravisor
            default: throw fail(.unknownCaller(String(head[..<colon])))
            }
            head = String(head[head.index(after: colon)...])
        }
        guard let opcode = opcode(named: head) else { throw fail(.unknownOpcode(head)) }

        let trigger: FaultRule.Trigger
        if triggerText == "*" {
            trigger = .every
        } else if triggerText.hasSuffix("%") {
            guard let p = Double(triggerText.dropLast()), p >= 0, p <= 100 else {
                throw fail(.badProbability(triggerText))
            }
            trigger = .probability(p / 100)
        } else if triggerText.hasSuffix("+") {
            guard let n = Int(triggerText.dropLast()) else { throw fail(.badTrigger(triggerText)) }
            guard n >= 1 else { throw fail(.zeroOccurrence) }
            trigger = .from(n)
        } else if let dash = triggerText.firstIndex(of: "-") {
            guard let a = Int(triggerText[..<dash]), let b = Int(triggerText[triggerText.index(after: dash)...]),
                a <= b
            else { throw fail(.badTrigger(triggerText)) }
            guard a >= 1 else { throw fail(.zeroOccurrence) }
            trigger = .range(a, b)
        } else {
            guard let n = Int(triggerText) else { throw fail(.badTrigger(triggerText)) }
            guard n >= 1 else { throw fail(.zeroOccurrence) }
            trigger = .nth(n)
        }

        var statusText = actionText
        var partial: Int?
        if let colon = actionText.firstIndex(of: ":") {
            statusText = String(actionText[..<colon])
            let rest = actionText[actionText.index(after: colon)...]
            guard rest.hasPrefix("after="), let k = Int(rest.dropFirst("after=".count)), k >= 0 else {
                throw fail(.badPartial(String(rest)))
            }
            guard case .ultracall(let u) = opcode, u == .sharePage || u == .unsharePage else {
                throw fail(.badPartial(String(rest)))
            }
            partial = k
        }
        guard let status = status(named: statusText) else { throw fail(.unknownStatus(statusText)) }
        let action: FaultRule.Action = partial.map { .partial(pages: $0, status: status) } ?? .status(status)
        return FaultRule(opcode: opcode, caller: caller, trigger: trigger, action: action)
    }

    /// An opcode by C name, or `UV_0x…`/`H_0x…`.
    static func opcode(named name: String) -> FaultRule.Opcode? {
        let upper = name.uppercased()
        if let u = Ultracall.allDefined.first(where: { $0.name == upper }) { return .ultracall(u) }
        if let h = Hypercall.allKnown.first(where: { $0.name == upper }) { return .hypercall(h) }
        if upper == "H_SVM_TPM_COMM" { return .hypercall(.tpmComm) }
        if upper.hasPrefix("UV_0X"), let v = UInt64(upper.dropFirst(5), radix: 16) {
            return .ultracall(Ultracall(rawValue: v))
        }
        if upper.hasPrefix("H_0X"), let v = UInt64(upper.dropFirst(4), radix: 16) {
            return .hypercall(Hypercall(rawValue: v))
        }
        return nil
    }

    /// A status by C name (`U_*`, `H_*`) or as a signed integer.
    static func status(named text: String) -> Int64? {
        let upper = text.uppercased()
        if upper == "U_BUSY" { return UltravisorStatus.busy.rawValue }
        if let u = UltravisorStatus.allNamed.first(where: { $0.name == upper }) { return u.rawValue }
        if let h = HypervisorStatus.allNamed.first(where: { $0.name == upper }) { return h.rawValue }
        var digits = Substring(text)
        var negative = false
        if digits.hasPrefix("-") {
            negative = true
            digits = digits.dropFirst()
        }
        let magnitude: Int64?
        if digits.lowercased().hasPrefix("0x") {
            magnitude = Int64(digits.dropFirst(2), radix: 16)
        } else {
            magnitude = Int64(digits)
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
