@_spi(Firmware) import PEFMachine
import PowerABI
public import SecureGuest

/// The shared-page audit and the culprit report: observers outside the guest, which
/// read what the guest exports (its ledger, memblock, unshare call sites and the
/// faults it noticed) beside the machine's page-state table and isolation records.
extension GuestKernel {
    /// Compares the ledger with the machine's page states now: every explicitly
    /// shared page must be in the ledger (else a leak) and every ledger page must be
    /// explicitly shared (else a loss). Reads the machine-level page-state table; the
    /// guest never sees it.
    public func audit(_ label: String = "audit") -> SharedPageAuditReport {
        let memory = machine.memory
        let explicit = Set(memory.frames(where: \.isExplicitShare))
        let ledger = self.ledger
        return SharedPageAuditReport(
            label: label, ledger: ledger.audit(againstExplicitlyShared: explicit), explicitlyShared: explicit.count,
            implicitlyShared: memory.pageCount(in: .sharedImplicit) + memory.pageCount(in: .sharedImplicitInvalid),
            pseudoShared: memory.pageCount(in: .pseudoShared) + memory.pageCount(in: .pseudoSharedInvalid),
            transient: PageState.allCases.filter(\.isTransient).reduce(0) { $0 + memory.pageCount(in: $1) },
            ignoredStatuses: ledger.ignoredStatuses.count, sharedByOwner: ledger.countsByOwner, isolationViolations: memory.violationCount)
    }

    /// Every fault found so far, culprit named: the kernel's own records, then each
    /// isolation violation the machine recorded and the SVM kill, attributed to the
    /// kernel object that owns the address (from the allocator's records) and to the
    /// function that should have shared it, or that unshared it.
    ///
    /// Calls whose status Linux ignored come first after the kernel's own records: one
    /// `GuestFault.Kind.ignoredStatus` per call and run of pages whose state now
    /// differs from what Linux believes (the guest itself never acted on the status; a
    /// non-zero r3 that changed nothing, as the public firmware leaves on success, is
    /// not reported).
    public func diagnose() -> [GuestFault] {
        var out = faults
        let (memblock, ledger, unsharedBy) = (self.memblock, self.ledger, unshareCallSites)
        out += Self.ignoredStatusFaults(
            ledger.audit(againstExplicitlyShared: Set(machine.memory.frames(where: \.isExplicitShare)))
                .ignoredStatusMismatches)
        for v in machine.memory.violations {
            let address = v.address
            let region = memblock?.region(containing: address)?.purpose
            let owner = region.flatMap { SharedPageOwner(memblockPurpose: $0) }
            let frame = v.address.frame
            let culprit: String
            if let site = unsharedBy[frame] {
                culprit = "\(site) unshared it while the hypervisor still used it"
            } else if ledger.entries[frame] != nil {
                culprit = "the ledger says it is shared, but the page is \(v.pageState)"
            } else if let owner {
                culprit = "\(owner.sharingFunction) did not share it"
            } else {
                culprit = "the guest never shared it" + (region.map { " (\($0))" } ?? "")
            }
            out.append(
                GuestFault(
                    kind: .isolationViolation, address: address, owner: owner, region: region, culprit: culprit,
                    detail: v.description))
        }
        if let kill = machine.memory.kill {
            let address = kill.address
            let region = address.flatMap { memblock?.region(containing: $0)?.purpose }
            let culprit: String
            switch kill.pageState {
            case .sharedImplicit?, .sharedImplicitInvalid?:
                culprit = "the guest touched a page the Ultravisor shared implicitly"
            default:
                culprit = "the Ultravisor killed the SVM"
            }
            out.append(
                GuestFault(
                    kind: .svmKilled, address: address, owner: region.flatMap { SharedPageOwner(memblockPurpose: $0) },
                    region: region, culprit: culprit, detail: kill.reason))
        }
        return out
    }

    /// Consecutive mismatched frames that share an ignored status, as runs.
    public static func ignoredStatusRuns(_ mismatches: [SharedPageAudit.Mismatch]) -> [IgnoredStatusRun] {
        var out: [IgnoredStatusRun] = []
        for m in mismatches.sorted(by: { $0.frame < $1.frame }) {
            if let r = out.last, r.mismatch.ignored == m.ignored, r.mismatch.ledgerSaysShared == m.ledgerSaysShared,
                r.first.rawValue + UInt64(r.count) == m.frame.rawValue
            {
                out[out.count - 1].count += 1
            } else {
                out.append(IgnoredStatusRun(first: m.frame, count: 1, mismatch: m))
            }
        }
        return out
    }

    /// One fault per ``ignoredStatusRuns(_:)`` run.
    public static func ignoredStatusFaults(_ mismatches: [SharedPageAudit.Mismatch]) -> [GuestFault] {
        ignoredStatusRuns(mismatches).map { r in
            GuestFault(
                kind: .ignoredStatus, address: r.first.address, owner: r.mismatch.ignored.owner,
                region: r.mismatch.ignored.owner.rawValue, culprit: r.description, detail: r.mismatch.description)
        }
    }
}

/// Consecutive frames whose state differs from what Linux believes, for the same
/// ignored status.
public struct IgnoredStatusRun: Hashable, Sendable, CustomStringConvertible {
    /// The first frame.
    public let first: GuestFrameNumber
    /// How many frames.
    public internal(set) var count: Int
    /// The first frame's mismatch (the others have the same status and direction).
    public let mismatch: SharedPageAudit.Mismatch

    /// e.g. `dtl_cache_ctor ignored UV_SHARE_PAGE's U_P2, as Linux does: 1 page(s) Linux believes shared are not`.
    public var description: String {
        let i = mismatch.ignored
        return "\(i.callSite) ignored \(i.call)'s \(i.status.name), as Linux does: \(count) page(s) at \(first) Linux believes \(mismatch.ledgerSaysShared ? "shared" : "private") are not"
    }
}
