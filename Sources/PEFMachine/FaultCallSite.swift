import PowerABI

/// One call in a baseline run that a fault can hit: who made it, which opcode, and
/// which occurrence of that (caller, opcode) pair it was, which is what a
/// ``FaultRule`` with a caller and an `@N` trigger counts (issue 8 item 2).
///
/// ``sites(in:)`` reads them from a trace; the ``context`` (the chain of calls it was
/// made under, e.g. `UV_ESM#1 > H_SVM_INIT_DONE`) is the stratum a walk samples by when
/// one pair has thousands of occurrences, as `UV_PAGE_IN` does.
public struct FaultCallSite: Hashable, Sendable, CustomStringConvertible {
    /// Who made the call.
    public let caller: Caller.Kind
    /// The opcode.
    public let opcode: FaultRule.Opcode
    /// Which matching call it is, from 1, counting only calls of `opcode` by `caller`.
    public let occurrence: Int
    /// The opcodes of the calls it was made under, outermost first, the outermost with
    /// its occurrence (e.g. `["UV_SHARE_PAGE#2", "H_SVM_PAGE_IN"]`); empty for a call a
    /// vCPU made itself.
    public let context: [String]
    /// The argument registers from r4 up, as traced.
    public let arguments: [UInt64]

    /// Makes a call site.
    public init(caller: Caller.Kind, opcode: FaultRule.Opcode, occurrence: Int, context: [String], arguments: [UInt64]) {
        self.caller = caller
        self.opcode = opcode
        self.occurrence = occurrence
        self.context = context
        self.arguments = arguments
    }

    /// The stratum: caller, context and opcode, e.g. `hypervisor: UV_ESM#1 > H_SVM_INIT_DONE > UV_PAGE_IN`.
    public var stratum: String { "\(caller.rawValue): " + (context + [opcode.name]).joined(separator: " > ") }

    /// The rule that fails exactly this call with `action`.
    public func rule(_ action: FaultRule.Action) -> FaultRule {
        FaultRule(opcode: opcode, caller: caller, trigger: .nth(occurrence), action: action)
    }

    /// e.g. `uv:H_SVM_PAGE_IN#12 (UV_ESM#1)`.
    public var description: String {
        let who: String
        switch caller {
        case .guest: who = "guest"
        case .hypervisor: who = "hv"
        case .ultravisor: who = "uv"
        }
        return "\(who):\(opcode.name)#\(occurrence)" + (context.isEmpty ? "" : " (\(context.joined(separator: " > ")))")
    }

    /// Every `sc 1` and `sc 2` call in `records` (a trace kept with detail, in the order
    /// calls started), numbered per (caller kind, opcode) as a ``FaultPlan`` numbers
    /// them. Reflections and events are not calls and are skipped, but a reflection
    /// or a page fault does appear in the context of the calls made under it.
    public static func sites(in records: [TraceRecord]) -> [FaultCallSite] {
        var counts: [Key: Int] = [:]
        var stack: [(depth: Int, name: String)] = []
        var out: [FaultCallSite] = []
        // Events are not calls and are skipped, except a page fault: the calls the
        // Ultravisor makes to resolve it are made under it.
        for r in records.sorted(by: { $0.sequence < $1.sequence }) where r.level != .event || r.name == "PAGE_FAULT" {
            while let top = stack.last, top.depth >= r.depth { stack.removeLast() }
            let context = stack.map(\.name)
            let opcode: FaultRule.Opcode
            switch r.level {
            case .sc1: opcode = .hypercall(Hypercall(rawValue: r.number))
            case .sc2: opcode = .ultracall(Ultracall(rawValue: r.number))
            case .reflection, .event:
                stack.append((r.depth, r.name))
                continue
            }
            let key = Key(caller: r.caller.kind, level: r.level, number: r.number)
            counts[key, default: 0] += 1
            let occurrence = counts[key] ?? 1
            // The outermost call is named with its occurrence, so that the page-ins of
            // two different shares are two strata.
            stack.append((r.depth, stack.isEmpty ? "\(r.name)#\(occurrence)" : r.name))
            out.append(
                FaultCallSite(
                    caller: r.caller.kind, opcode: opcode, occurrence: occurrence, context: context,
                    arguments: r.arguments))
        }
        return out
    }

    /// A stratified, seeded sample: from every stratum with more than `limit` sites,
    /// its first and last site and `limit − 2` others drawn with `seed`; smaller strata
    /// whole. The order of `sites` is kept.
    public static func sample(_ sites: [FaultCallSite], perStratum limit: Int, seed: UInt64) -> [FaultCallSite] {
        var byStratum: [String: [Int]] = [:]
        for (i, s) in sites.enumerated() { byStratum[s.stratum, default: []].append(i) }
        var keep = Set<Int>()
        var generator = Xoshiro256StarStar(seed: seed)
        for stratum in byStratum.keys.sorted() {
            guard let indices = byStratum[stratum] else { continue }
            guard indices.count > max(limit, 2) else {
                keep.formUnion(indices)
                continue
            }
            var chosen: Set<Int> = [indices[0], indices[indices.count - 1]]
            let inner = Array(indices.dropFirst().dropLast())
            while chosen.count < max(limit, 2) {
                chosen.insert(inner[Int(generator.next() % UInt64(inner.count))])
            }
            keep.formUnion(chosen)
        }
        return sites.indices.filter(keep.contains).map { sites[$0] }
    }

    private struct Key: Hashable {
        let caller: Caller.Kind
        let level: CallLevel
        let number: UInt64
    }
}
