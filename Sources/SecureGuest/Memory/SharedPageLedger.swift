public import PowerABI

/// Every page the guest has shared with the hypervisor, with who shared it and from
/// where: SVMKit's own bookkeeping, which Linux does not keep.
///
/// An audit compares the ledger with what the Ultravisor says is explicitly shared
/// and reports leaks (shared, but the guest does not know why) and losses (the guest
/// believes a page is shared, but it is not).
public struct SharedPageLedger: Hashable, Sendable {
    /// One shared page.
    public struct Entry: Hashable, Sendable {
        /// Who shared it.
        public let owner: SharedPageOwner
        /// The kernel function that shared it, e.g. `alloc_shared_lppaca`.
        public let callSite: String
    }

    /// Shared pages by frame.
    public private(set) var entries: [GuestFrameNumber: Entry] = [:]
    /// Pages whose unshare failed: the guest no longer knows whether the hypervisor
    /// can see them, so they are kept out of normal use (never freed, never reused)
    /// and out of the audit's leak and loss lists.
    public private(set) var quarantined: [GuestFrameNumber: Entry] = [:]

    /// An empty ledger.
    public init() {}

    /// Records `count` pages from `first` as shared by `owner` at `callSite`.
    public mutating func recordShare(first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner, callSite: String) {
        for i in 0..<count { entries[GuestFrameNumber(first.rawValue &+ i)] = Entry(owner: owner, callSite: callSite) }
    }

    /// Forgets `count` pages from `first` (they were unshared), quarantined ones included.
    public mutating func recordUnshare(first: GuestFrameNumber, count: UInt64) {
        for i in 0..<count {
            entries[GuestFrameNumber(first.rawValue &+ i)] = nil
            if !quarantined.isEmpty { quarantined[GuestFrameNumber(first.rawValue &+ i)] = nil }
        }
    }

    /// Forgets everything (after `UV_UNSHARE_ALL_PAGES`, which also settles the
    /// quarantined pages: every explicit share is undone).
    public mutating func removeAll() {
        entries.removeAll()
        quarantined.removeAll()
    }

    /// Moves `count` pages from `first` into quarantine (their unshare failed). Pages
    /// the ledger did not know are quarantined with `owner` and `callSite`.
    public mutating func quarantine(
        first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner, callSite: String
    ) {
        for i in 0..<count {
            let f = GuestFrameNumber(first.rawValue &+ i)
            quarantined[f] = entries.removeValue(forKey: f) ?? Entry(owner: owner, callSite: callSite)
        }
    }

    /// Whether a frame is quarantined.
    public func isQuarantined(_ frame: GuestFrameNumber) -> Bool { quarantined[frame] != nil }

    /// The entry for a frame, shared or quarantined.
    public func entry(for frame: GuestFrameNumber) -> Entry? { entries[frame] ?? quarantined[frame] }

    /// Shared page counts by owner.
    public var countsByOwner: [SharedPageOwner: Int] {
        entries.values.reduce(into: [:]) { $0[$1.owner, default: 0] += 1 }
    }

    /// Compares with the frames the Ultravisor holds as explicitly shared by this guest.
    /// Quarantined frames are neither leaks nor losses: their state is unknown by
    /// definition.
    public func audit(againstExplicitlyShared shared: Set<GuestFrameNumber>) -> SharedPageAudit {
        let known = Set(entries.keys)
        return SharedPageAudit(
            leaks: shared.subtracting(known).filter { quarantined[$0] == nil }.sorted(),
            losses: known.subtracting(shared).sorted().compactMap { f in entries[f].map { (f, $0) } }.map {
                SharedPageAudit.Loss(frame: $0.0, owner: $0.1.owner, callSite: $0.1.callSite)
            })
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

    /// Pages shared with the hypervisor that the ledger does not know.
    public let leaks: [GuestFrameNumber]
    /// Pages the ledger knows that are not shared.
    public let losses: [Loss]

    /// No leaks and no losses.
    public var isClean: Bool { leaks.isEmpty && losses.isEmpty }

    /// e.g. `clean` or `2 leaks (gfn 0x10, …), 1 loss (gfn 0x20 dtl from dtl_cache_ctor)`.
    public var description: String {
        if isClean { return "clean" }
        var parts: [String] = []
        if !leaks.isEmpty { parts.append("\(leaks.count) leak(s): " + leaks.prefix(4).map(\.description).joined(separator: ", ")) }
        if !losses.isEmpty {
            parts.append("\(losses.count) loss(es): " + losses.prefix(4).map { "\($0.frame) \($0.owner.rawValue) from \($0.callSite)" }.joined(separator: ", "))
        }
        return parts.joined(separator: "; ")
    }
}
