import PowerABI

/// Who made a call or an access, as a value: the actor, the vCPU it ran on (or acted
/// for), and the MSR whose (S, HV, PR) bits the router checks.
public struct Caller: Hashable, Sendable, CustomStringConvertible {
    /// The three actors of a PEF system.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Guest code on a vCPU (a normal VM or an SVM).
        case guest
        /// The simulated hypervisor (KVM/QEMU).
        @_spi(Firmware) case hypervisor
        /// The simulated Ultravisor.
        @_spi(Firmware) case ultravisor
    }

    /// The actor.
    public let kind: Kind
    /// The vCPU the call was made on or on behalf of, if any.
    public let vcpu: Int?
    /// The caller's MSR (the firmware reads it from SRR1).
    public let msr: MachineStateRegister

    /// Makes a caller.
    public init(kind: Kind, vcpu: Int?, msr: MachineStateRegister) {
        self.kind = kind
        self.vcpu = vcpu
        self.msr = msr
    }

    /// The privilege the MSR gives.
    public var privilege: PrivilegeState { PrivilegeState(msr: msr) }

    /// The hypervisor in hypervisor state (S=0, HV=1, PR=0), optionally with extra MSR
    /// bits (tests use the TM bits to reach `U_BAD_MODE`).
    public static func hypervisor(vcpu: Int? = nil, msr: MachineStateRegister = .hypervisorKernel) -> Caller {
        Caller(kind: .hypervisor, vcpu: vcpu, msr: msr)
    }

    /// The Ultravisor issuing a hypercall on behalf of an SVM: the hypervisor sees the
    /// SVM's frame, so the MSR is a secure supervisor's (S=1, HV=0, PR=0). That is what
    /// KVM checks before it accepts an `H_SVM_*` call.
    public static func ultravisor(vcpu: Int?) -> Caller {
        Caller(kind: .ultravisor, vcpu: vcpu, msr: MachineStateRegister.guestKernel.union(.secure))
    }

    /// e.g. `guest vcpu 0 [S=1 HV=0 PR=0]`.
    public var description: String {
        let p = privilege
        let bits = "S=\(p.isSecure ? 1 : 0) HV=\(p.isHypervisor ? 1 : 0) PR=\(p.isProblem ? 1 : 0)"
        if let vcpu { return "\(kind.rawValue) vcpu \(vcpu) [\(bits)]" }
        return "\(kind.rawValue) [\(bits)]"
    }
}

/// The actor touching guest memory, passed to every `GuestMemory` accessor.
public enum MemoryActor: Sendable {
    /// Guest code on this vCPU; its privilege is read from the vCPU's MSR at the time of
    /// the access.
    case guest(VirtualProcessor)
    /// Guest code in an explicit state, for callers without a vCPU object (tests, tools).
    @_spi(Firmware) case guestState(vcpu: Int, msr: MachineStateRegister)
    /// The hypervisor.
    case hypervisor
    /// The Ultravisor.
    case ultravisor

    /// The value form of the actor, with the MSR read now.
    public var caller: Caller {
        switch self {
        case .guest(let vcpu): Caller(kind: .guest, vcpu: vcpu.index, msr: vcpu.msr)
        case .guestState(let vcpu, let msr): Caller(kind: .guest, vcpu: vcpu, msr: msr)
        case .hypervisor: .hypervisor()
        case .ultravisor:
            Caller(kind: .ultravisor, vcpu: nil, msr: MachineStateRegister.hypervisorKernel.union(.secure))
        }
    }
}
