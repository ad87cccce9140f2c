import PowerABI

/// What the machine's router needs from a hypervisor. The `Hypervisor` module
/// implements it.
public protocol HypervisorFirmware: AnyObject, Sendable {
    /// A hypercall: from a normal vCPU (`sc 1`), reflected by the Ultravisor for a
    /// secure vCPU (level ``CallLevel/reflection``), or issued by the Ultravisor itself.
    /// On a machine without PEF it also gets every `sc 2`, which it must fail with
    /// `H_FUNCTION`. Leave the status in r3.
    func handleHypercall(_ call: inout FirmwareCall, on machine: Machine)

    /// The hypervisor touched a secure page (``HypervisorTouch/pageOut``): take it back
    /// as KVM's `kvmppc_uvmem_migrate_to_ram()` does (`book3s_hv_uvmem.c`, 6.12), with
    /// `UV_PAGE_OUT` into the frame's own backing, so the access sees ciphertext.
    /// Return whether the hypervisor now holds the page.
    func migrateToRAM(_ fault: PageFault, on machine: Machine) -> Bool
}

extension HypervisorFirmware {
    /// No page-out on touch: the access fails (as with ``HypervisorTouch/stop``).
    public func migrateToRAM(_ fault: PageFault, on machine: Machine) -> Bool { false }
}
