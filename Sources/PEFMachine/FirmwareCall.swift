import PowerABI

/// One call as a firmware handler sees it: the caller's registers (number in r3,
/// arguments from r4), who called and how, and room for the answer.
///
/// A handler leaves the status in r3 and any outputs in the registers it defines;
/// the whole register file goes back to the caller. A handler that does not return to
/// the instruction after the `sc` (the `UV_ESM` success path) sets ``resume``.
public struct FirmwareCall: Sendable {
    /// The register file, in and out.
    public var registers: Registers
    /// Who called.
    public let caller: Caller
    /// `sc 1`, `sc 2` or a reflection.
    public let level: CallLevel
    /// Nesting depth (0 for a call a vCPU made).
    public let depth: Int
    /// The opcode (r3 when the call was made).
    public let number: UInt64
    /// A partial-progress fault the plan asked this call to act out, if any (see
    /// ``FaultRule/Action/partial(pages:status:)``).
    public internal(set) var injectedFault: FaultRule.Action?
    /// Where the caller resumes, if not after its `sc`; `nil` means "after the `sc`".
    public var resume: ResumePoint?
    /// Remarks that go into the call's trace record.
    public var notes: [String] = []

    /// Makes a call record for a handler.
    public init(registers: Registers, caller: Caller, level: CallLevel, depth: Int) {
        self.registers = registers
        self.caller = caller
        self.level = level
        self.depth = depth
        self.number = registers.r3
    }

    /// r3 read as an Ultravisor status.
    public var ultravisorStatus: UltravisorStatus { UltravisorStatus(register: registers.r3) }
    /// r3 read as a hypervisor status.
    public var hypervisorStatus: HypervisorStatus { HypervisorStatus(register: registers.r3) }

    /// Register `n` (arguments are r4 up).
    public subscript(_ n: Int) -> UInt64 {
        get { registers[n] }
        set { registers[n] = newValue }
    }

    /// Sets r3 to an Ultravisor status.
    public mutating func finish(_ status: UltravisorStatus) { registers.r3 = status.register }
    /// Sets r3 to a hypervisor status.
    public mutating func finish(_ status: HypervisorStatus) { registers.r3 = status.register }
}

/// Where a vCPU continues after a call that does not return normally.
public struct ResumePoint: Hashable, Sendable {
    /// The new program counter, or `nil` for "after the `sc`".
    public var pc: UInt64?
    /// The new MSR, or `nil` for "unchanged".
    public var msr: MachineStateRegister?

    /// Makes a resume point.
    public init(pc: UInt64? = nil, msr: MachineStateRegister? = nil) {
        self.pc = pc
        self.msr = msr
    }
}
