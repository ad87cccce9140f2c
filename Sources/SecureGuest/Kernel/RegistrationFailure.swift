public import PowerABI

/// An `H_REGISTER_VPA` the hypervisor refused during boot (Linux prints a WARNING and
/// boots on).
public struct RegistrationFailure: Hashable, Sendable, CustomStringConvertible {
    /// The area.
    public enum Area: String, Hashable, Sendable {
        /// The VPA (LPPACA).
        case vpa = "VPA"
        /// The Dispatch Trace Log.
        case dtl = "DTL"
    }

    /// The Linux CPU.
    public let cpu: Int
    /// Which area.
    public let area: Area
    /// Its guest-physical address.
    public let address: GuestPhysicalAddress
    /// What the hypervisor answered.
    public let status: HypervisorStatus

    /// e.g. `VPA of cpu 0 at 0x800000: H_PARAMETER (-4)`.
    public var description: String {
        "\(area.rawValue) of cpu \(cpu) at \(address): \(status)"
    }
}
