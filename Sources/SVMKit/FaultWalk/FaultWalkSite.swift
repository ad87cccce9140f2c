@_spi(Firmware) import PEFMachine

/// One call site of a fault walk's baseline: the Nth call of an opcode by a caller
/// (guest, Ultravisor, hypervisor) in a phase, e.g. `boot/guest:UV_SHARE_PAGE#2`.
public struct FaultWalkSite: Hashable, Sendable {
    /// The phase the call was made in.
    public let phase: FaultWalkPhase
    /// The call in the whole run (its occurrence counts from the start of the run, as
    /// a `FaultRule` does).
    public let call: FaultCallSite
    /// Which call of this (caller, opcode) it is within ``phase``, from 1.
    public let occurrenceInPhase: Int

    /// Makes a site.
    public init(phase: FaultWalkPhase, call: FaultCallSite, occurrenceInPhase: Int) {
        self.phase = phase
        self.call = call
        self.occurrenceInPhase = occurrenceInPhase
    }

    /// e.g. `boot/guest:UV_SHARE_PAGE#2`.
    public var id: String {
        let who: String
        switch call.caller {
        case .guest: who = "guest"
        case .hypervisor: who = "hv"
        case .ultravisor: who = "uv"
        }
        return "\(phase.rawValue)/\(who):\(call.opcode.name)#\(occurrenceInPhase)"
    }

    /// The calls it was made under, e.g. `UV_ESM#1 > H_SVM_INIT_START`; empty for a
    /// call a vCPU made itself.
    public var context: String { call.context.joined(separator: " > ") }

    /// The baseline's sites: every `sc 1` and `sc 2` call in `records`, each in the
    /// phase whose last trace sequence number (`phaseEnds`, in run order) is the first
    /// at or after the call's.
    public static func sites(in records: [TraceRecord], phaseEnds: [(FaultWalkPhase, Int)]) -> [FaultWalkSite] {
        let calls = records.filter { $0.level == .sc1 || $0.level == .sc2 }.map(\.sequence).sorted()
        let all = FaultCallSite.sites(in: records)
        var perPhase: [String: Int] = [:]
        var out: [FaultWalkSite] = []
        for (call, sequence) in zip(all, calls) {
            guard let phase = phaseEnds.first(where: { sequence <= $0.1 })?.0 else { continue }
            let key = "\(phase.rawValue)/\(call.caller.rawValue):\(call.opcode.name)"
            perPhase[key, default: 0] += 1
            out.append(FaultWalkSite(phase: phase, call: call, occurrenceInPhase: perPhase[key] ?? 1))
        }
        return out
    }
}
