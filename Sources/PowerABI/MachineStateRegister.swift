/// The Machine State Register of a POWER9 thread, as an option set of its bits.
///
/// Power ISA numbers bits from the most significant end (bit 0 is 2^63); each
/// member's doc gives that IBM number. `MSR[S]` is bit 41, the bit that makes a
/// thread secure (Linux `MSR_S_LG` = 22; reference/linux-guest-facts.md §1.0).
public struct MachineStateRegister: OptionSet, Hashable, Sendable, CustomStringConvertible {
    /// The register value.
    public let rawValue: UInt64

    /// Wraps a register value.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The mask for the bit Power ISA numbers `ibmBit` (0 = most significant).
    public static func ibmBit(_ ibmBit: Int) -> MachineStateRegister {
        MachineStateRegister(rawValue: 1 << UInt64(63 - ibmBit))
    }

    /// `MSR_SF` (bit 0): 64-bit mode.
    public static let sixtyFourBit = ibmBit(0)
    /// `MSR_HV` (bit 3): hypervisor state.
    public static let hypervisor = ibmBit(3)
    /// `MSR_TS` (bits 29–30): transactional-memory state (any non-zero value).
    public static let transactionState = MachineStateRegister(rawValue: ibmBit(29).rawValue | ibmBit(30).rawValue)
    /// `MSR_VEC` (bit 38): vector facility available.
    public static let vector = ibmBit(38)
    /// `MSR_VSX` (bit 40): VSX facility available.
    public static let vsx = ibmBit(40)
    /// `MSR_S` (bit 41): secure state; set only by the Ultravisor.
    public static let secure = ibmBit(41)
    /// `MSR_EE` (bit 48): external interrupts enabled.
    public static let externalInterrupts = ibmBit(48)
    /// `MSR_PR` (bit 49): problem (user) state.
    public static let problemState = ibmBit(49)
    /// `MSR_FP` (bit 50): floating point available.
    public static let floatingPoint = ibmBit(50)
    /// `MSR_ME` (bit 51): machine checks enabled.
    public static let machineCheck = ibmBit(51)
    /// `MSR_IR` (bit 58): instruction relocation.
    public static let instructionRelocate = ibmBit(58)
    /// `MSR_DR` (bit 59): data relocation.
    public static let dataRelocate = ibmBit(59)
    /// `MSR_RI` (bit 62): recoverable interrupt.
    public static let recoverable = ibmBit(62)
    /// `MSR_LE` (bit 63): little-endian mode.
    public static let littleEndian = ibmBit(63)

    /// A kernel running in a logical partition: SF, ME, IR, DR, RI, LE.
    public static let guestKernel: MachineStateRegister = [
        .sixtyFourBit, .machineCheck, .instructionRelocate, .dataRelocate, .recoverable, .littleEndian,
    ]
    /// The hypervisor: SF, HV, ME, RI, LE.
    public static let hypervisorKernel: MachineStateRegister = [
        .sixtyFourBit, .hypervisor, .machineCheck, .recoverable, .littleEndian,
    ]

    /// The privilege these bits give (see ``PrivilegeState``).
    public var privilege: PrivilegeState { PrivilegeState(msr: self) }

    /// The set bits by Linux name, e.g. `[SF S ME LE]`.
    public var description: String {
        let names: [(MachineStateRegister, String)] = [
            (.sixtyFourBit, "SF"), (.hypervisor, "HV"), (.vector, "VEC"), (.vsx, "VSX"), (.secure, "S"),
            (.externalInterrupts, "EE"), (.problemState, "PR"), (.floatingPoint, "FP"), (.machineCheck, "ME"),
            (.instructionRelocate, "IR"), (.dataRelocate, "DR"), (.recoverable, "RI"), (.littleEndian, "LE"),
        ]
        var parts = names.filter { contains($0.0) }.map(\.1)
        if !intersection(.transactionState).isEmpty { parts.append("TS") }
        return "[" + parts.joined(separator: " ") + "]"
    }
}
