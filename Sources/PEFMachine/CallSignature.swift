import PowerABI

/// How a call crosses the privilege boundary.
public enum CallLevel: String, Sendable, Hashable, CaseIterable {
    /// `sc 1`: a hypercall (also the Ultravisor's own hypercalls to the hypervisor).
    case sc1
    /// `sc 2`: an ultracall.
    case sc2
    /// The Ultravisor delivering an SVM's `sc 1` to the hypervisor with scrubbed
    /// registers (reference/ultravisor-facts.md §1.4). Not counted as a call.
    case reflection
    /// Something that is not a call but belongs in the trace (a page fault, a kill).
    case event
}

/// Which registers a call reads and writes, for the trace (reference/ultravisor-facts.md
/// §1.1 for ultracalls; `Hypercall.reflectedRegisterCounts` for hypercalls).
enum CallSignature {
    /// Registers from r4 up that an ultracall takes.
    static func argumentCount(_ call: Ultracall) -> Int {
        switch call {
        case .writePATE, .writeSCOM, .pageInvalidate, .sendSBECommand: 3
        case .restrictedSPRWrite, .enterSecureMode, .readSCOM, .unregisterMemorySlot, .sharePage, .unsharePage: 2
        case .restrictedSPRRead, .terminateSVM: 1
        case .registerMemorySlot, .pageIn, .pageOut: 5
        case .unshareAllPages: 0
        case .readMemory, .writeMemory: 4
        case .return, .getESMFile: 9
        default: 8
        }
    }

    /// The registers from r4 up that an ultracall returns.
    static func outputRegisters(_ call: Ultracall) -> ClosedRange<Int>? {
        switch call {
        case .restrictedSPRRead: 5...5
        case .readSCOM, .sendSBECommand: 4...4
        case .getESMFile: 4...11
        default: nil
        }
    }

    /// Registers from r4 up that a hypercall takes (8 for one SVMKit does not know).
    static func argumentCount(_ call: Hypercall) -> Int {
        guard let counts = call.reflectedRegisterCounts else { return 8 }
        return max(0, counts.inputs - 1)
    }

    /// Registers from r4 up that a hypercall returns.
    static func outputCount(_ call: Hypercall) -> Int {
        guard let counts = call.reflectedRegisterCounts else { return 0 }
        return max(0, counts.outputs - 1)
    }

    /// The C name of the call in r3 at this level.
    static func name(level: CallLevel, number: UInt64) -> String {
        switch level {
        case .sc2: Ultracall(rawValue: number).name
        case .sc1, .reflection: Hypercall(rawValue: number).name
        case .event: "EVENT"
        }
    }

    /// The C name of a status at this level.
    static func statusName(level: CallLevel, status: Int64) -> String {
        switch level {
        case .sc2: UltravisorStatus(rawValue: status).name
        case .sc1, .reflection: HypervisorStatus(rawValue: status).name
        case .event: String(status)
        }
    }
}
