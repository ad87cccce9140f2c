@_spi(Firmware) import PEFMachine
import PowerABI

/// The statuses a fault walk injects at a call site: those the real code can return
/// for that call, from its return paths, not every status the ABI names.
///
/// Ultracalls follow the firmware (reference/ultravisor-facts.md):
///
/// | call | statuses | return paths |
/// |---|---|---|
/// | `UV_ESM` | `U_P2`, `U_P3`, `U_PERMISSION`, `U_RETRY`, `U_FUNCTION` | `core/uvcall.c: syscall_ultracall_esm_svm` (kbase 0, fdt 0, LPIDR 0 or HV/PR set, `create_svm` failing); `core/context.c` (no reflect state: U_FUNCTION) — facts §1.1, §2.1 |
/// | `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` | `U_P2`, `U_RETRY`, `U_FUNCTION` | `core/svm_host.c: page_share_with_hv` / `page_unshare_with_hv` (range outside the memslots, a transient page, a failed page-in: U_P2); `core/context.c` (context not started: U_RETRY, U_FUNCTION) — §1.1, §5.2, §5.3 |
/// | `UV_UNSHARE_ALL_PAGES` | `U_STATE`, `U_RETRY`, `U_FUNCTION` | `core/svm_host.c: page_unshare_all_with_hv` (a transient page stops it); context start — §5.3 |
/// | `UV_PAGE_IN` | `U_P2`, `U_P3`, `U_P5`, `U_PARAMETER`, `U_STATE`, `U_BAD_MODE` | `core/svm_host.c` (facts §6 rows 1, 3, 5–8, 10, 11) |
/// | `UV_PAGE_OUT` | `U_P2`, `U_P3`, `U_P5`, `U_PARAMETER`, `U_RETRY`, `U_BAD_MODE` | `core/svm_host.c` (§6 rows 1, 3, 5–7, 12) |
/// | `UV_PAGE_INVAL` | `U_P2`, `U_P3`, `U_PARAMETER`, `U_STATE`, `U_BAD_MODE` | `core/svm_host.c` (§6 rows 1, 4, 6–8, 14) |
/// | `UV_REGISTER_MEM_SLOT` | `U_PARAMETER`, `U_BAD_MODE` | `core/svm_host.c` (§6 rows 1, 15) |
/// | `UV_UNREGISTER_MEM_SLOT`, `UV_SVM_TERMINATE`, `UV_WRITE_PATE` | `U_BAD_MODE` (the handlers always succeed) | `core/uvcall.c` TM check (§6 rows 1, 18; §7) |
/// | `UV_RETURN` | none: it does not return to the hypervisor | `core/uvcall.c` (§7) |
/// | other ultracalls | `U_PARAMETER` | §1.1 |
///
/// Hypercalls the Ultravisor makes follow KVM (`arch/powerpc/kvm/book3s_hv_uvmem.c`, 6.12):
///
/// | call | statuses | return paths |
/// |---|---|---|
/// | `H_SVM_INIT_START` | `H_UNSUPPORTED`, `H_AUTHORITY`, `H_PARAMETER` | `kvmppc_h_svm_init_start` (no uvmem bitmap or not radix; `svm_enabled` clear; `__kvmppc_uvmem_memslot_create` failing) |
/// | `H_SVM_INIT_DONE` | `H_UNSUPPORTED`, `H_STATE`, `H_PARAMETER` | `kvmppc_h_svm_init_done` (not in secure init; a memslot's pages not migrated) |
/// | `H_SVM_INIT_ABORT` | `H_UNSUPPORTED`, `H_STATE` (its normal answer is `H_PARAMETER`) | `kvmppc_h_svm_init_abort` |
/// | `H_SVM_PAGE_IN`, `H_SVM_PAGE_OUT` | `H_UNSUPPORTED`, `H_P2`, `H_P3`, `H_PARAMETER` | `kvmppc_h_svm_page_in` / `kvmppc_h_svm_page_out` (not secure-init; flags; order; no memslot or migration failing) |
///
/// Hypercalls the guest makes follow `arch/powerpc/kvm/book3s_hv.c` (6.12): `H_REGISTER_VPA`
/// answers `H_PARAMETER` or `H_RESOURCE` (`do_h_register_vpa`); `H_RTAS` answers
/// `H_PARAMETER` when the argument block cannot be read (`book3s_rtas.c:
/// kvmppc_rtas_hcall`, -EFAULT) and `H_HARDWARE` when the Ultravisor cannot bounce it
/// (facts §1.4); `H_SVM_TPM_COMM` keeps `FaultCatalog`'s list (QEMU's
/// `hw/ppc/spapr_tpm_proxy.c` and the TSS's errno mapping, facts §1.5). Any other
/// hypercall: `H_PARAMETER` and `H_HARDWARE`.
public enum FaultWalkStatuses {
    /// The statuses to inject at a call of `opcode`, each as a fault action.
    public static func statuses(of opcode: FaultRule.Opcode) -> [FaultRule.Action] {
        switch opcode {
        case .ultracall(let u): ultracall(u).map { .status($0.rawValue) }
        case .hypercall(let h): hypercall(h).map { .status($0.rawValue) }
        }
    }

    /// The status's C name for `opcode`'s family.
    public static func name(_ status: Int64, of opcode: FaultRule.Opcode) -> String {
        if case .ultracall = opcode { return UltravisorStatus(rawValue: status).name }
        return HypervisorStatus(rawValue: status).name
    }

    private static func ultracall(_ u: Ultracall) -> [UltravisorStatus] {
        switch u {
        case .return: []
        case .enterSecureMode: [.p2, .p3, .permission, .retry, .function]
        case .sharePage, .unsharePage: [.p2, .retry, .function]
        case .unshareAllPages: [.state, .retry, .function]
        case .pageIn: [.p2, .p3, .p5, .parameter, .state, .badMode]
        case .pageOut: [.p2, .p3, .p5, .parameter, .retry, .badMode]
        case .pageInvalidate: [.p2, .p3, .parameter, .state, .badMode]
        case .registerMemorySlot: [.parameter, .badMode]
        case .unregisterMemorySlot, .terminateSVM, .writePATE: [.badMode]
        default: [.parameter]
        }
    }

    private static func hypercall(_ h: Hypercall) -> [HypervisorStatus] {
        switch h {
        case .svmInitStart: [.unsupported, .authority, .parameter]
        case .svmInitDone: [.unsupported, .state, .parameter]
        case .svmInitAbort: [.unsupported, .state]
        case .svmPageIn, .svmPageOut: [.unsupported, .p2, .p3, .parameter]
        case .registerVPA: [.parameter, .resource]
        case .rtas: [.parameter, .hardware]
        case .tpmComm:
            FaultCatalog.failures(of: .hypercall(h)).map { HypervisorStatus(rawValue: $0.status) }.filter { $0 != .busy }
        default: [.parameter, .hardware]
        }
    }
}
