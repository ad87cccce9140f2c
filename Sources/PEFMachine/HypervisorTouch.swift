/// What happens when the hypervisor touches a page that is in secure memory.
///
/// On hardware the access faults on KVM's device-private PTE and
/// `kvmppc_uvmem_migrate_to_ram()` pages the page out with `UV_PAGE_OUT`: the
/// hypervisor gets the page's ciphertext and the access goes on
/// (`arch/powerpc/kvm/book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram`, 6.12). The guest
/// sees the damage later: garbage on a disk, or tampering (`U_P3`) when the page,
/// changed by the hypervisor, is paged back in (`core/svm_host.c: __handle_page_in`,
/// open-power/ultravisor). Either way the access is recorded as an
/// ``IsolationViolation``.
public enum HypervisorTouch: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// As on hardware (the default): the page is paged out and the hypervisor sees
    /// its ciphertext.
    case pageOut = "page-out"
    /// A debugging mode SVMKit adds: the access fails at once.
    case stop

    /// The name `--hv-touch` takes.
    public var description: String { rawValue }
}
