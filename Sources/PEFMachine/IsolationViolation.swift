import PowerABI

/// Whether an access read or wrote.
public enum MemoryAccessKind: String, Sendable, Hashable {
    /// A load.
    case read
    /// A store.
    case write
}

/// An access that broke the isolation PEF promises: the hypervisor (or a non-secure
/// vCPU) touching a secure page. Never silently allowed: the record is kept in either
/// mode of ``HypervisorTouch``. With ``HypervisorTouch/pageOut`` (the hardware's
/// behaviour) a hypervisor access went on after `UV_PAGE_OUT` and saw ciphertext; with
/// ``HypervisorTouch/stop`` (and for a non-secure vCPU) the access failed.
public struct IsolationViolation: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the offending page that the access touched.
    public let address: GuestPhysicalAddress
    /// The page's state at the time.
    public let pageState: PageState
    /// Who tried.
    public let caller: Caller
    /// Read or write.
    public let access: MemoryAccessKind
    /// What the caller was doing, e.g. `H_REGISTER_VPA: VPA of vcpu 3`, if it said.
    public let purpose: String?
    /// What the machine did: paged the page out so the access saw ciphertext, or
    /// stopped the access.
    public let handling: HypervisorTouch

    /// Makes a record.
    public init(
        address: GuestPhysicalAddress, pageState: PageState, caller: Caller, access: MemoryAccessKind,
        purpose: String?, handling: HypervisorTouch = .stop
    ) {
        self.address = address
        self.pageState = pageState
        self.caller = caller
        self.access = access
        self.purpose = purpose
        self.handling = handling
    }

    /// e.g. `hypervisor [S=0 HV=1 PR=0] read 0x10000 (SECURE): H_RTAS args`, followed by
    /// `, paged out: the hypervisor saw ciphertext` when it was.
    public var description: String {
        "\(caller) \(access.rawValue) \(address) (\(pageState))" + (purpose.map { ": " + $0 } ?? "")
            + (handling == .pageOut ? ", paged out: the hypervisor saw ciphertext" : "")
    }
}

/// The Ultravisor killing an SVM because it touched a page it must not
/// (`svm_e00_handle` → `svm_abort` in `open-power/ultravisor core/svm_host.c`,
/// reference/ultravisor-facts.md §5.1), or for another firmware reason.
public struct SVMKill: Hashable, Sendable, CustomStringConvertible {
    /// The page involved, if any.
    public let address: GuestPhysicalAddress?
    /// Its state, if any.
    public let pageState: PageState?
    /// The vCPU that was running, if known.
    public let vcpu: Int?
    /// Why, in words.
    public let reason: String

    /// Makes a record.
    public init(address: GuestPhysicalAddress?, pageState: PageState?, vcpu: Int?, reason: String) {
        self.address = address
        self.pageState = pageState
        self.vcpu = vcpu
        self.reason = reason
    }

    /// e.g. `SVM killed: vcpu 0 touched implicitly shared page 0x2ff80000 (SHARED_IMPLICIT)`.
    public var description: String { "SVM killed: " + reason }
}
