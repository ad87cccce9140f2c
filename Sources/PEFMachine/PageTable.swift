import PowerABI

/// The state behind `GuestMemory`'s mutex: one ``PageState`` per 64 KiB page, the
/// hypervisor's copies of pseudo-shared pages, and the isolation records.
struct PageTable: Sendable {
    /// One entry per page; index = guest frame number.
    var states: [PageState]
    /// How many pages are in each state, indexed by `PageState.rawValue`.
    var stateCounts: [Int]
    /// The hypervisor's separate normal copy of each pseudo-shared page, by frame.
    /// Missing means "still all zero".
    var pseudoCopies: [UInt64: [UInt8]] = [:]
    /// Paged-out frames whose ciphertext is in the frame's own backing: the normal page
    /// the hypervisor holds at that GPA after `kvmppc_uvmem_migrate_to_ram()`. The
    /// hypervisor reads and writes it directly.
    var hypervisorHeld: Set<UInt64> = []
    /// Hypervisor-held frames (``hypervisorHeld``) the hypervisor has stored into since
    /// the page-out: their ciphertext no longer authenticates, as on hardware, where the
    /// next `UV_PAGE_IN` answers `U_P3`.
    var hypervisorWritten: Set<UInt64> = []
    /// The first `GuestMemory.violationRecordLimit` violations.
    var violations: [IsolationViolation] = []
    /// Every violation, also those past the record limit.
    var violationCount = 0
    /// The first kill, if any.
    var kill: SVMKill?

    /// A table with no pages and no allocations (the stand-in `editPages` swaps in).
    static let empty = PageTable(states: [], stateCounts: [])

    private init(states: [PageState], stateCounts: [Int]) {
        self.states = states
        self.stateCounts = stateCounts
    }

    init(pageCount: Int) {
        states = [PageState](repeating: .normal, count: pageCount)
        stateCounts = [Int](repeating: 0, count: PageState.allCases.count)
        stateCounts[Int(PageState.normal.rawValue)] = pageCount
    }

    /// Sets one page's state, keeping the counts and dropping a pseudo copy that no
    /// longer has a pseudo-shared page behind it.
    mutating func set(_ frame: Int, _ new: PageState) {
        let old = states[frame]
        guard old != new else { return }
        states[frame] = new
        stateCounts[Int(old.rawValue)] -= 1
        stateCounts[Int(new.rawValue)] += 1
        if old == .pseudoShared || old == .pseudoSharedInvalid, new != .pseudoShared, new != .pseudoSharedInvalid {
            pseudoCopies[UInt64(frame)] = nil
        }
        if old == .pagedOut, !hypervisorHeld.isEmpty {
            hypervisorHeld.remove(UInt64(frame))
            hypervisorWritten.remove(UInt64(frame))
        }
    }

    mutating func record(_ violation: IsolationViolation) {
        violationCount += 1
        if violations.count < GuestMemory.violationRecordLimit { violations.append(violation) }
    }
}
