/// The state of one 64 KiB guest page: who owns it and who may touch it.
///
/// The states after ``normal`` are the Ultravisor's page states of
/// `open-power/ultravisor include/svm_host.h` (reference/ultravisor-facts.md §5.1);
/// ``ultravisorValue`` gives the firmware's number for each. ``normal`` is the
/// hypervisor's view of a page no Ultravisor owns: every page of a normal partition,
/// and a page of an SVM under construction that has not been paged in yet (the
/// firmware's default `SECURE` entry for a page it has not touched).
///
/// `GuestMemory` keeps one of these per page; it is the single source of truth for
/// every access check.
public enum PageState: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Normal memory of the hypervisor: a non-secure page.
    case normal = 0
    /// `SECURE` (0): in secure memory, owned by the Ultravisor and the SVM.
    case secure
    /// `PAGEDOUT` (1): encrypted and handed to the hypervisor by `UV_PAGE_OUT`.
    case pagedOut
    /// `SHARED` (2): explicitly shared by the SVM with `UV_SHARE_PAGE`.
    case shared
    /// `SHARED_INV` (3): an explicit share the hypervisor invalidated with `UV_PAGE_INVAL`.
    case sharedInvalid
    /// `SHARED_IMPLICIT` (4): shared by the Ultravisor itself (RTAS and TPM bounce
    /// pages); the SVM must not touch it.
    case sharedImplicit
    /// `SHARED_IMPLICIT_INV` (5).
    case sharedImplicitInvalid
    /// `HV_SHARING` (6): transient, a share in progress before the hypervisor answered.
    case hypervisorSharing
    /// `HV_SHARED` (7): transient, the hypervisor gave its normal page; not yet committed.
    case hypervisorShared
    /// `HV_SHARED_INV` (8).
    case hypervisorSharedInvalid
    /// `HV_UNSHARING` (9): transient, an unshare in progress.
    case hypervisorUnsharing
    /// `HV_UNSHARING_INV` (10).
    case hypervisorUnsharingInvalid
    /// `HV_UNSHARED` (11): transient, the hypervisor took its page back; not yet committed.
    case hypervisorUnshared
    /// `PSEUDO_SHARED` (12): the hypervisor sees a separate zeroed normal copy while the
    /// SVM keeps its secure copy (the guest's RTAS area).
    case pseudoShared
    /// `PSEUDO_SHARED_INV` (13).
    case pseudoSharedInvalid

    /// The firmware's value from `include/svm_host.h`, or `nil` for ``normal``.
    public var ultravisorValue: Int? {
        switch self {
        case .normal: nil
        case .secure: 0
        case .pagedOut: 1
        case .shared: 2
        case .sharedInvalid: 3
        case .sharedImplicit: 4
        case .sharedImplicitInvalid: 5
        case .hypervisorSharing: 6
        case .hypervisorShared: 7
        case .hypervisorSharedInvalid: 8
        case .hypervisorUnsharing: 9
        case .hypervisorUnsharingInvalid: 10
        case .hypervisorUnshared: 11
        case .pseudoShared: 12
        case .pseudoSharedInvalid: 13
        }
    }

    /// The firmware's name, e.g. `SHARED_IMPLICIT`, or `NORMAL`.
    public var name: String {
        switch self {
        case .normal: "NORMAL"
        case .secure: "SECURE"
        case .pagedOut: "PAGEDOUT"
        case .shared: "SHARED"
        case .sharedInvalid: "SHARED_INV"
        case .sharedImplicit: "SHARED_IMPLICIT"
        case .sharedImplicitInvalid: "SHARED_IMPLICIT_INV"
        case .hypervisorSharing: "HV_SHARING"
        case .hypervisorShared: "HV_SHARED"
        case .hypervisorSharedInvalid: "HV_SHARED_INV"
        case .hypervisorUnsharing: "HV_UNSHARING"
        case .hypervisorUnsharingInvalid: "HV_UNSHARING_INV"
        case .hypervisorUnshared: "HV_UNSHARED"
        case .pseudoShared: "PSEUDO_SHARED"
        case .pseudoSharedInvalid: "PSEUDO_SHARED_INV"
        }
    }

    /// The firmware's name.
    public var description: String { name }

    /// The "shared" group of §5.1: explicit, implicit and pseudo shares, valid or invalidated.
    public var isShared: Bool {
        switch self {
        case .shared, .sharedInvalid, .sharedImplicit, .sharedImplicitInvalid, .pseudoShared, .pseudoSharedInvalid:
            true
        default: false
        }
    }

    /// The "transient" group of §5.1 (`HV_SHARING` … `HV_UNSHARED`): a share or unshare
    /// is part way; share and unshare refuse such pages with `U_P2`.
    public var isTransient: Bool {
        switch self {
        case .hypervisorSharing, .hypervisorShared, .hypervisorSharedInvalid, .hypervisorUnsharing,
            .hypervisorUnsharingInvalid, .hypervisorUnshared:
            true
        default: false
        }
    }

    /// The "cannot be unshared" group of §5.1: implicit and pseudo shares.
    public var cannotBeUnshared: Bool {
        switch self {
        case .sharedImplicit, .sharedImplicitInvalid, .pseudoShared, .pseudoSharedInvalid: true
        default: false
        }
    }

    /// The "secure" group of §5.1: `SECURE` and `PAGEDOUT`.
    public var isSecureGroup: Bool { self == .secure || self == .pagedOut }

    /// An explicit share (`SHARED` or `SHARED_INV`), the only kind `UV_UNSHARE_PAGE` and
    /// `UV_UNSHARE_ALL_PAGES` undo.
    public var isExplicitShare: Bool { self == .shared || self == .sharedInvalid }

    /// One of the `…_INV` states: the hypervisor invalidated its page with `UV_PAGE_INVAL`.
    public var isInvalidated: Bool {
        switch self {
        case .sharedInvalid, .sharedImplicitInvalid, .hypervisorSharedInvalid, .hypervisorUnsharingInvalid,
            .pseudoSharedInvalid:
            true
        default: false
        }
    }

    /// The state `UV_PAGE_INVAL` moves this one to, or `nil` if it refuses this state
    /// (reference/ultravisor-facts.md §6 row 14). Already-invalid pages map to themselves.
    public var invalidated: PageState? {
        switch self {
        case .shared, .sharedInvalid: .sharedInvalid
        case .sharedImplicit, .sharedImplicitInvalid: .sharedImplicitInvalid
        case .pseudoShared, .pseudoSharedInvalid: .pseudoSharedInvalid
        case .hypervisorShared, .hypervisorSharedInvalid: .hypervisorSharedInvalid
        case .hypervisorUnsharing, .hypervisorUnsharingInvalid: .hypervisorUnsharingInvalid
        default: nil
        }
    }

    /// The valid state an `…_INV` state returns to when the hypervisor pages it in again.
    public var revalidated: PageState {
        switch self {
        case .sharedInvalid: .shared
        case .sharedImplicitInvalid: .sharedImplicit
        case .pseudoSharedInvalid: .pseudoShared
        case .hypervisorSharedInvalid: .hypervisorShared
        case .hypervisorUnsharingInvalid: .hypervisorUnsharing
        default: self
        }
    }
}

/// The three ways the Ultravisor shares a page (reference/ultravisor-facts.md §5.1–5.2).
public enum ShareKind: String, Sendable, Hashable, CaseIterable {
    /// `UV_SHARE_PAGE` from the SVM: the SVM and the hypervisor both see the normal page.
    case explicit
    /// Shared by the Ultravisor for itself (bounce pages): the normal page is not mapped
    /// for the SVM, and an SVM access to it kills the SVM.
    case implicit
    /// The hypervisor sees a zeroed normal copy; the SVM keeps its secure copy mapped.
    case pseudo

    /// The committed page state for this kind of share.
    public var committedState: PageState {
        switch self {
        case .explicit: .shared
        case .implicit: .sharedImplicit
        case .pseudo: .pseudoShared
        }
    }
}
