public import PowerABI

/// Every page the guest believes it has shared with the hypervisor, with who shared it
/// and from where: SVMKit's own bookkeeping, which Linux does not keep.
///
/// Linux ignores the status of `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` and
/// `UV_UNSHARE_ALL_PAGES` (`arch/powerpc/platforms/pseries/svm.c:
/// set_memory_decrypted, set_memory_encrypted, dtl_cache_ctor`;
/// `arch/powerpc/kernel/paca.c: alloc_shared_lppaca`; `arch/powerpc/kexec/core_64.c:
/// default_machine_kexec (6.12)`), so the ledger records what Linux believes: a page is
/// shared once its share call was made and private once its unshare call was made.
/// The status the Ultravisor put in r3 is only written down
/// (``ignoredStatuses``): an observer outside the guest compares the ledger with the
/// Ultravisor's page states and tells a mismatch Linux caused by ignoring a status
/// (a finding about Linux) from one nothing explains (a bug in SVMKit).
public struct SharedPageLedger: Hashable, Sendable {
    /// One shared page.
    public struct Entry: Hashable, Sendable {
        /// Who shared it.
        public let owner: SharedPageOwner
        /// The kernel function that shared it, e.g. `alloc_shared_lppaca`.
        public let callSite: String
    }

    /// A non-zero status Linux ignored for a page, the last one for that page.
    public struct IgnoredStatus: Hashable, Sendable, CustomStringConvertible {
        /// The ultracall whose status was ignored.
        public let call: Ultracall
        /// What r3 held after it.
        public let status: UltravisorStatus
        /// The kernel function that made the call.
        public let callSite: String
        /// Who the page belongs to.
        public let owner: SharedPageOwner

        /// e.g. `UV_SHARE_PAGE from dtl_cache_ctor answered U_P2 (ignored, as Linux does)`.
        public var description: String {
            "\(call) from \(callSite) answered \(status.name) (ignored, as Linux does)"
        }
    }

    /// Shared pages by frame.
    public private(set) var entries: [GuestFrameNumber: Entry] = [:]
    /// Frames whose last share or unshare call returned a non-zero status that Linux
    /// ignored; a later call that succeeds clears the frame.
    public private(set) var ignoredStatuses: [GuestFrameNumber: IgnoredStatus] = [:]

    /// Frames a share call whose status Linux ignored left private, while Linux went on
    /// believing them shared; kept for the kernel's life (a later unshare does not
    /// erase what the hypervisor may have touched meanwhile).
    public private(set) var failedShares: Set<GuestFrameNumber> = []

    /// An empty ledger.
    public init() {}

    /// Records frames a failed share left private (see ``failedShares``).
    public mutating func noteFailedShare(_ frames: [GuestFrameNumber]) { failedShares.formUnion(frames) }

    /// Records `count` pages from `first` as shared by `owner` at `callSite`.
    public mutating func recordShare(first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner, callSite: String) {
        for i in 0..<count { entries[GuestFrameNumber(first.rawValue &+ i)] = Entry(owner: owner, callSite: callSite) }
    }

    /// Forgets `count` pages from `first` (their unshare call was made).
    public mutating func recordUnshare(first: GuestFrameNumber, count: UInt64) {
        for i in 0..<count { entries[GuestFrameNumber(first.rawValue &+ i)] = nil }
    }

    /// Writes down the status of a call on `count` pages from `first`: a non-zero one
    /// is kept per frame, zero clears what an earlier call left.
    public mutating func noteStatus(
        _ status: UltravisorStatus, of call: Ultracall, first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner,
        callSite: String
    ) {
        // r3 left at the ultracall number (the public firmware) carries no status.
        guard status != .success, !status.isUltracallNumber(of: call) else {
            if !ignoredStatuses.isEmpty {
                for i in 0..<count { ignoredStatuses[GuestFrameNumber(first.rawValue &+ i)] = nil }
            }
            return
        }
        let note = IgnoredStatus(call: call, status: status, callSite: callSite, owner: owner)
        for i in 0..<count { ignoredStatuses[GuestFrameNumber(first.rawValue &+ i)] = note }
    }

    /// Forgets every share (Linux's belief after `UV_UNSHARE_ALL_PAGES`, whatever its
    /// status). A non-zero status is noted on every frame the ledger held.
    public mutating func removeAll(status: UltravisorStatus = .success, callSite: String = "default_machine_kexec") {
        if status == .success || status.isUltracallNumber(of: .unshareAllPages) {
            ignoredStatuses.removeAll()
        } else {
            for (frame, entry) in entries {
                ignoredStatuses[frame] = IgnoredStatus(
                    call: .unshareAllPages, status: status, callSite: callSite, owner: entry.owner)
            }
        }
        entries.removeAll()
    }

    /// The entry for a frame.
    public func entry(for frame: GuestFrameNumber) -> Entry? { entries[frame] }

    /// Shared page counts by owner.
    public var countsByOwner: [SharedPageOwner: Int] {
        entries.values.reduce(into: [:]) { $0[$1.owner, default: 0] += 1 }
    }

    /// Compares with the frames the Ultravisor holds as explicitly shared by this guest.
    /// A mismatch on a frame whose last call's status Linux ignored is not a leak or a
    /// loss but a finding about Linux (``SharedPageAudit/ignoredStatusMismatches``).
    public func audit(againstExplicitlyShared shared: Set<GuestFrameNumber>) -> SharedPageAudit {
        let known = Set(entries.keys)
        let leaks = shared.subtracting(known).sorted()
        let losses = known.subtracting(shared).sorted().compactMap { f in entries[f].map { (f, $0) } }
        var explained: [SharedPageAudit.Mismatch] = []
        var unexplainedLeaks: [GuestFrameNumber] = []
        for f in leaks {
            if let n = ignoredStatuses[f] {
                explained.append(.init(frame: f, ledgerSaysShared: false, ignored: n))
            } else {
                unexplainedLeaks.append(f)
            }
        }
        var unexplainedLosses: [SharedPageAudit.Loss] = []
        for (f, e) in losses {
            if let n = ignoredStatuses[f] {
                explained.append(.init(frame: f, ledgerSaysShared: true, ignored: n))
            } else {
                unexplainedLosses.append(.init(frame: f, owner: e.owner, callSite: e.callSite))
            }
        }
        return SharedPageAudit(
            leaks: unexplainedLeaks, losses: unexplainedLosses,
            ignoredStatusMismatches: explained.sorted { $0.frame < $1.frame })
    }
}

/// The result of comparing the guest's ledger with the Ultravisor's page states.
public struct SharedPageAudit: Hashable, Sendable, CustomStringConvertible {
    /// A page the guest believes shared that the Ultravisor does not.
    public struct Loss: Hashable, Sendable {
        /// The frame.
        public let frame: GuestFrameNumber
        /// Who the ledger says shared it.
        public let owner: SharedPageOwner
        /// Where.
        public let callSite: String
    }

    /// A page where the ledger and the Ultravisor disagree because Linux ignored the
    /// status of the call that should have changed it: a finding about Linux.
    public struct Mismatch: Hashable, Sendable, CustomStringConvertible {
        /// The frame.
        public let frame: GuestFrameNumber
        /// Whether the ledger (Linux) believes the page is shared; the Ultravisor says
        /// the opposite.
        public let ledgerSaysShared: Bool
        /// The ignored status.
        public let ignored: SharedPageLedger.IgnoredStatus

        /// e.g. `gfn 0x10 (dtl): Linux believes it shared, the Ultravisor does not; UV_SHARE_PAGE …`.
        public var description: String {
            "\(frame) (\(ignored.owner.rawValue)): Linux believes it \(ledgerSaysShared ? "shared" : "private"), the Ultravisor does not; \(ignored)"
        }
    }

    /// Pages shared with the hypervisor that the ledger does not know, and no ignored
    /// status explains.
    public let leaks: [GuestFrameNumber]
    /// Pages the ledger knows that are not shared, and no ignored status explains.
    public let losses: [Loss]
    /// Mismatches an ignored status explains (findings about Linux, not SVMKit bugs).
    public let ignoredStatusMismatches: [Mismatch]

    /// Makes an audit result.
    public init(leaks: [GuestFrameNumber], losses: [Loss], ignoredStatusMismatches: [Mismatch] = []) {
        self.leaks = leaks
        self.losses = losses
        self.ignoredStatusMismatches = ignoredStatusMismatches
    }

    /// No unexplained leaks and no unexplained losses.
    public var isClean: Bool { leaks.isEmpty && losses.isEmpty }

    /// e.g. `clean` or `2 leaks (gfn 0x10, …), 1 loss (gfn 0x20 dtl from dtl_cache_ctor)`.
    public var description: String {
        let findings = ignoredStatusMismatches.isEmpty
            ? "" : " (\(ignoredStatusMismatches.count) mismatch(es) from statuses Linux ignores)"
        if isClean { return "clean" + findings }
        var parts: [String] = []
        if !leaks.isEmpty { parts.append("\(leaks.count) leak(s): " + leaks.prefix(4).map(\.description).joined(separator: ", ")) }
        if !losses.isEmpty {
            parts.append("\(losses.count) loss(es): " + losses.prefix(4).map { "\($0.frame) \($0.owner.rawValue) from \($0.callSite)" }.joined(separator: ", "))
        }
        return parts.joined(separator: "; ") + findings
    }
}
