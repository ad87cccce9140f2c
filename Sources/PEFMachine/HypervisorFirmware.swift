import PowerABI

/// What the machine's router needs from a hypervisor. The `Hypervisor` module
/// implements it.
public protocol HypervisorFirmware: AnyObject, Sendable {
    /// A hypercall: from a normal vCPU (`sc 1`), reflected by the Ultravisor for a
    /// secure vCPU (level ``CallLevel/reflection``), or issued by the Ultravisor itself.
    /// On a machine without PEF it also gets every `sc 2`, which it must fail with
    /// `H_FUNCTION`. Leave the status in r3.
    func handleHypercall(_ call: inout FirmwareCall, on machine: Machine)
}
