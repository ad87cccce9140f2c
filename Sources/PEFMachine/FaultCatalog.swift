import PowerABI

/// The ways each ultracall and hypercall can fail, as the references document them:
/// what a fault walk injects at every call site (issue 8 item 2).
///
/// For every opcode: each error status the reference gives for that call, the
/// generic statuses the router can answer instead (ultracalls: `U_PERMISSION` and,
/// for hypervisor-only calls, `U_BAD_MODE`; reference/ultravisor-facts.md §1.1), and
/// BUSY (`U_BUSY`, which has the value of `U_FUNCTION`, or `H_BUSY`). Share and
/// unshare ranges also stop part way (``partialProgress(pageCount:)``).
///
/// | call | statuses (besides BUSY) | reference |
/// |---|---|---|
/// | `UV_ESM` | `U_P2`, `U_P3`, `U_PERMISSION`, `U_RETRY`, `U_PARAMETER` | ultravisor-facts.md §2.1, §2.9; linux-guest-facts.md §1.1 |
/// | `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` | `U_P2`, `U_PERMISSION`, `U_RETRY` | ultravisor-facts.md §1.1 (context start), §5.2, §5.3 |
/// | `UV_UNSHARE_ALL_PAGES` | `U_P2`, `U_STATE`, `U_PERMISSION`, `U_RETRY` | §1.1, §5.3 |
/// | `UV_REGISTER_MEM_SLOT` | `U_PARAMETER`, `U_PERMISSION`, `U_BAD_MODE` | §6 row 15 |
/// | `UV_UNREGISTER_MEM_SLOT`, `UV_SVM_TERMINATE`, `UV_WRITE_PATE` | `U_PERMISSION`, `U_BAD_MODE` (the handlers always succeed) | §6 row 18, §7 |
/// | `UV_PAGE_IN` | `U_P2`, `U_P3`, `U_P4`, `U_P5`, `U_PARAMETER`, `U_STATE`, `U_RETRY`, `U_PERMISSION`, `U_BAD_MODE` | §6 rows 3, 5–8, 10–11 |
/// | `UV_PAGE_OUT` | `U_P2`, `U_P3`, `U_P5`, `U_PARAMETER`, `U_RETRY`, `U_PERMISSION`, `U_BAD_MODE` | §6 rows 3, 5–7, 9, 12 |
/// | `UV_PAGE_INVAL` | `U_P2`, `U_P3`, `U_PARAMETER`, `U_STATE`, `U_PERMISSION`, `U_BAD_MODE` | §6 rows 4, 6–8, 14 |
/// | other ultracalls | `U_PARAMETER`, `U_PERMISSION` | §1.1 |
/// | `H_SVM_INIT_START` | `H_STATE`, `H_PARAMETER`, `H_UNSUPPORTED` | §1.5 |
/// | `H_SVM_INIT_DONE` | `H_STATE`, `H_UNSUPPORTED` | §1.5 |
/// | `H_SVM_INIT_ABORT` | `H_STATE`, `H_UNSUPPORTED` (`H_PARAMETER` is its normal answer) | §1.5 |
/// | `H_SVM_PAGE_IN`, `H_SVM_PAGE_OUT` | `H_PARAMETER`, `H_P2`, `H_P3`, `H_UNSUPPORTED` | §1.5 |
/// | `H_SVM_TPM_COMM` | `H_FUNCTION`, `H_PARAMETER`, `H_NOT_AVAILABLE`, `H_HARDWARE`, `H_RESOURCE` | §1.5 (the TSS's errno mapping) |
/// | `H_RTAS` | `H_PARAMETER`, `H_HARDWARE` | §1.3 |
/// | `H_REGISTER_VPA` | `H_PARAMETER`, `H_RESOURCE`, `H_HARDWARE` | PAPR (the hypervisor model answers `H_PARAMETER`) |
/// | other hypercalls | `H_PARAMETER`, `H_HARDWARE`, `H_FUNCTION` | §1.5 |
///
/// `UV_RETURN` has none: on hardware it does not return to the hypervisor at all, and
/// a failed one leaves the reflected hypercall unanswered, which SVMKit does not model
/// (the reflection is complete when the hypervisor's handler returns). A walk skips it.
public enum FaultCatalog {
    /// Every documented failure of `opcode`, BUSY last; empty for `UV_RETURN`.
    public static func failures(of opcode: FaultRule.Opcode) -> [FaultRule.Action] {
        let statuses: [Int64]
        switch opcode {
        case .ultracall(let u):
            statuses = ultracallStatuses(u).map(\.rawValue) + (u == .return ? [] : [UltravisorStatus.busy.rawValue])
        case .hypercall(let h):
            statuses = hypercallStatuses(h).map(\.rawValue) + [HypervisorStatus.busy.rawValue]
        }
        var seen = Set<Int64>()
        return statuses.filter { seen.insert($0).inserted }.map { .status($0) }
    }

    /// Part-way progress for a share or unshare of `pageCount` pages: stop after 0, 1,
    /// half and all but one page, with `U_P2` and with `U_BUSY` (duplicates removed;
    /// nothing for a one-page range beyond stopping before it).
    public static func partialProgress(pageCount: Int) -> [FaultRule.Action] {
        guard pageCount > 0 else { return [] }
        var stops = [0, 1, pageCount / 2, pageCount - 1].filter { $0 < pageCount }
        stops = Array(Set(stops)).sorted()
        return [UltravisorStatus.p2, .busy].flatMap { status in
            stops.map { FaultRule.Action.partial(pages: $0, status: status.rawValue) }
        }
    }

    /// Whether `opcode` is a range call that can stop part way.
    public static func takesPartialProgress(_ opcode: FaultRule.Opcode) -> Bool {
        if case .ultracall(let u) = opcode { return u == .sharePage || u == .unsharePage }
        return false
    }

    private static func ultracallStatuses(_ u: Ultracall) -> [UltravisorStatus] {
        let hvOnly: [UltravisorStatus] = [.permission, .badMode]
        switch u {
        case .return: return []
        case .enterSecureMode: return [.p2, .p3, .permission, .retry, .parameter]
        case .sharePage, .unsharePage: return [.p2, .permission, .retry]
        case .unshareAllPages: return [.p2, .state, .permission, .retry]
        case .registerMemorySlot: return [.parameter] + hvOnly
        case .unregisterMemorySlot, .terminateSVM, .writePATE: return hvOnly
        case .pageIn: return [.p2, .p3, .p4, .p5, .parameter, .state, .retry] + hvOnly
        case .pageOut: return [.p2, .p3, .p5, .parameter, .retry] + hvOnly
        case .pageInvalidate: return [.p2, .p3, .parameter, .state] + hvOnly
        default: return [.parameter, .permission]
        }
    }

    private static func hypercallStatuses(_ h: Hypercall) -> [HypervisorStatus] {
        switch h {
        case .svmInitStart: [.state, .parameter, .unsupported]
        case .svmInitDone, .svmInitAbort: [.state, .unsupported]
        case .svmPageIn, .svmPageOut: [.parameter, .p2, .p3, .unsupported]
        case .tpmComm: [.function, .parameter, .notAvailable, .hardware, .resource]
        case .rtas: [.parameter, .hardware]
        case .registerVPA: [.parameter, .resource, .hardware]
        default: [.parameter, .hardware, .function]
        }
    }
}
