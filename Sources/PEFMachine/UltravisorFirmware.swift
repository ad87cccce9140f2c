import PowerABI

/// What the machine's router needs from an Ultravisor. The `Ultravisor` module
/// implements it; `PEFMachine` only knows this protocol, so the Ultravisor and the
/// hypervisor never import each other.
public protocol UltravisorFirmware: AnyObject, Sendable {
    /// An ultracall (`sc 2`) that passed the router's checks: the number is known and
    /// the caller's privilege is right for it (reference/ultravisor-facts.md §1.1).
    /// Leave the status in r3.
    func handleUltracall(_ call: inout FirmwareCall, on machine: Machine)

    /// An `sc 1` from a secure vCPU: answer it (`H_RANDOM`), bounce it (`H_RTAS`) or
    /// reflect it to the hypervisor with `Machine.reflectHypercall(_:depth:for:)`.
    func handleSecureHypercall(_ call: inout FirmwareCall, on machine: Machine)

    /// A secure vCPU touched a page the Ultravisor must bring in first (normal, paged
    /// out or invalidated). Return whether the page is now accessible.
    func handlePageFault(_ fault: PageFault, on machine: Machine) -> Bool
}
