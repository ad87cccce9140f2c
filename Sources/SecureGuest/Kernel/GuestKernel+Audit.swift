import PEFMachine
import PowerABI

/// The shared-page audit and the culprit report.
extension GuestKernel {
    /// Compares the ledger with the machine's page states now: every explicitly
    /// shared page must be in the ledger (else a leak) and every ledger page must be
    /// explicitly shared (else a loss). Reads the machine-level page-state table; the
    /// guest's behaviour never depends on it.
    public func audit(_ label: String = "audit") -> SharedPageAuditReport {
        let memory = machine.memory
        let explicit = Set(memory.frames(where: \.isExplicitShare))
        let ledger = state.withLock { $0.ledger }
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
    /// ``GuestFault/Kind/ignoredStatus`` per call and range, naming what the guest went
    /// on to do as if it had worked (the guest itself never acted on them).
    public func diagnose() -> [GuestFault] {
        var out = faults
        let (memblock, ledger, unsharedBy) = state.withLock { ($0.memblock, $0.ledger, $0.unsharedBy) }
        out += Self.ignoredStatusFaults(ledger)
        for v in machine.memory.violations {
            let address = v.address.rawValue
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
            let address = kill.address?.rawValue
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

    /// One fault per run of consecutive frames that share an ignored status.
    static func ignoredStatusFaults(_ ledger: SharedPageLedger) -> [GuestFault] {
        var out: [GuestFault] = []
        var run: (first: GuestFrameNumber, count: Int, note: SharedPageLedger.IgnoredStatus)?
        func flush() {
            guard let r = run else { return }
            let believed = r.note.call == .sharePage ? "shared" : "private"
            out.append(
                GuestFault(
                    kind: .ignoredStatus, address: r.first.rawValue << PageSize.shift, owner: r.note.owner,
                    region: r.note.owner.rawValue,
                    culprit: "\(r.note.callSite) ignored \(r.note.call)'s \(r.note.status.name), as Linux does, and treats \(r.count) page(s) as \(believed)",
                    detail: r.note.description))
        }
        for frame in ledger.ignoredStatuses.keys.sorted() {
            let note = ledger.ignoredStatuses[frame]
            if let r = run, let note, r.note == note, r.first.rawValue + UInt64(r.count) == frame.rawValue {
                run = (r.first, r.count + 1, note)
            } else if let note {
                flush()
                run = (frame, 1, note)
            }
        }
        flush()
        return out
    }
}
