/// One part of a fault walk's run (``FaultWalk``), in the order they run.
public enum FaultWalkPhase: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// prom_init's `UV_ESM` and the kernel's boot (``SecureVirtualMachine/boot(kernelOptions:bugs:)``).
    case boot
    /// One block-device round trip bounced through the SWIOTLB pool
    /// (``SecureVirtualMachine/exerciseBlockDevice(bytes:)``: map, sync, unmap).
    case io
    /// A normal kexec (`UV_UNSHARE_ALL_PAGES`, then the next kernel's boot) and then a
    /// crash kexec (shares left in place, then the next kernel's boot):
    /// `arch/powerpc/kexec/core_64.c: default_machine_kexec (6.12)`.
    case kexec

    /// Run order.
    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}
