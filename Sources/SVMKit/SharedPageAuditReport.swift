public import SecureGuest

/// The shared-page audit: the kernel's ledger against the machine's page states
/// (explicit shares are the guest's; implicit and pseudo shares are the
/// Ultravisor's own and are counted, not audited).
public struct SharedPageAuditReport: Hashable, Sendable, CustomStringConvertible {
    /// When it was taken (e.g. "after boot", "after kexec (normal)").
    public let label: String
    /// Leaks (explicitly shared pages the ledger does not know) and losses (pages the
    /// ledger knows that are not shared).
    public let ledger: SharedPageAudit
    /// Pages in `SHARED` or `SHARED_INV`.
    public let explicitlyShared: Int
    /// Pages in `SHARED_IMPLICIT` or `SHARED_IMPLICIT_INV` (the Ultravisor's bounce pages).
    public let implicitlyShared: Int
    /// Pages in `PSEUDO_SHARED` or `PSEUDO_SHARED_INV` (the guest's RTAS area).
    public let pseudoShared: Int
    /// Pages in a transient share or unshare state (should be 0 between calls).
    public let transient: Int
    /// Frames whose last share or unshare status Linux ignored (SVMKit's record; the
    /// guest did not act on it).
    public let ignoredStatuses: Int
    /// The ledger's shared pages by owner.
    public let sharedByOwner: [SharedPageOwner: Int]
    /// Isolation violations the machine recorded so far.
    public let isolationViolations: Int

    /// No unexplained leaks or losses, no page caught mid-share. Mismatches a status
    /// Linux ignored explains are findings about Linux and do not count
    /// (`SharedPageAudit.ignoredStatusMismatches`).
    public var isClean: Bool { ledger.isClean && transient == 0 }

    /// e.g. `after boot: 1027 explicit (lppaca 1, dtl 1, swiotlb 1024, dma-coherent 1), 6 implicit, 1 pseudo; ledger clean; 0 isolation violations`.
    public var description: String {
        let owners = SharedPageOwner.allCases.compactMap { o in sharedByOwner[o].map { "\(o.rawValue) \($0)" } }
        var s = "\(label): \(explicitlyShared) explicit"
        if !owners.isEmpty { s += " (" + owners.joined(separator: ", ") + ")" }
        s += ", \(implicitlyShared) implicit, \(pseudoShared) pseudo"
        if transient > 0 { s += ", \(transient) transient" }
        if ignoredStatuses > 0 { s += ", \(ignoredStatuses) with an ignored status" }
        s += "; ledger \(ledger); \(isolationViolations) isolation violation(s)"
        return s
    }
}
