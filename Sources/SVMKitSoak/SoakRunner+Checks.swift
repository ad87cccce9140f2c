import SVMKit
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest

/// The checks between operations: after each cycle, at each kexec, after each boot.
extension SoakRunner {
    /// The machine's invariants: the one place the soak asks for them.
    /// ``SecureVirtualMachine/checkInvariants()`` (``InvariantChecker``: isolation, the
    /// ledger against the Ultravisor's shares, the hypervisor's view, no explicit share
    /// after a normal kexec, page-outs are ciphertext, kernel errors). `report`, when
    /// given, is the façade's report of the current state (what
    /// ``SecureVirtualMachine/kexec(_:)`` returns), whose `invariantFailures` come from
    /// the same checker, so nothing is checked twice.
    static func invariantFailures(of vm: SecureVirtualMachine, report: BootReport? = nil) -> [String] {
        report?.invariantFailures ?? vm.checkInvariants()
    }

    /// After every cycle, with every thread stopped: the pool has no live mapping, the
    /// only dma-coherent allocations are the disks' queues, the kernel recorded no
    /// fault, each worker's churn pages are where it believes them (shared pages in
    /// the ledger, private pages secure), and the machine's invariants hold.
    func checkCycle(
        _ vm: SecureVirtualMachine, kernel: GuestKernel, workers: [SoakWorker], cycle: Int,
        inherited: Set<GuestFrameNumber>?, tally: SoakTally
    ) {
        var problems: [Problem] = []
        if let pool = kernel.swiotlbPool, pool.statistics.usedSlots != 0 {
            problems.append(.init(.invariant, "\(pool.statistics.usedSlots) SWIOTLB slot(s) still mapped after every operation finished"))
        }
        let coherent = kernel.dmaStatistics.coherentAllocations
        if coherent != configuration.cpuCount {
            problems.append(.init(.invariant, "\(coherent) live dma-coherent allocation(s); expected \(configuration.cpuCount) (the disks' queues)"))
        }
        let memory = vm.machine.memory
        let ledger = kernel.ledger
        for w in workers {
            let shared = Set(w.sharedChurnPages)
            let churnBase = w.churnBase
            guard let churnBase else { continue }
            for i in 0..<configuration.churnPages {
                let frame = GuestFrameNumber(rawValue: (churnBase >> PageSize.shift) + UInt64(i))
                let state = memory.state(of: frame)
                let entry = ledger.entries[frame]
                if ledger.ignoredStatuses[frame] != nil {
                    // Not where the worker believes because Linux ignored a status.
                    tally.noteFindings([frame])
                    continue
                }
                if shared.contains(i), state != .shared || entry?.owner != .other {
                    problems.append(.init(.invariant, "vCPU \(w.cpu)'s churn page \(frame) should be shared and in the ledger: it is \(state.map { "\($0)" } ?? "?"), ledger \(entry.map { $0.owner.rawValue } ?? "none")"))
                } else if !shared.contains(i), state != .secure || entry != nil {
                    problems.append(.init(.invariant, "vCPU \(w.cpu)'s churn page \(frame) should be private: it is \(state.map { "\($0)" } ?? "?"), ledger \(entry.map { $0.owner.rawValue } ?? "none")"))
                }
            }
        }
        problems += kernelProblems(vm, kernel: kernel, inherited: inherited, label: "after cycle \(cycle)", tally: tally)
        record(problems, cycle: cycle, tally: tally)
    }

    /// After a boot (the first, or the next kernel's after a kexec).
    func checkBoot(
        _ vm: SecureVirtualMachine, kernel: GuestKernel, cycle: Int, inherited: Set<GuestFrameNumber>?,
        report: BootReport? = nil, tally: SoakTally
    ) {
        var problems: [Problem] = []
        if !kernel.isSecureGuest { problems.append(.init(.machine, "the kernel of cycle \(cycle) is not secure")) }
        problems += kernelProblems(
            vm, kernel: kernel, inherited: inherited, label: "after the boot of cycle \(cycle)", report: report, tally: tally)
        record(problems, cycle: cycle, tally: tally)
    }

    /// Kexecs out of `kernel` (a crash kexec for a seeded share of cycles) and checks
    /// the switch: `UV_UNSHARE_ALL_PAGES` exactly for a normal kexec, the old kernel gone,
    /// the next one running and secure. Returns the frames the next kernel inherits
    /// shared (`nil` after a normal kexec; every explicit share after a crash), or `nil`
    /// if the run must stop.
    func kexec(_ vm: SecureVirtualMachine, from kernel: GuestKernel, cycle: Int, tally: SoakTally) -> NextKernel? {
        var g = SoakWorker.generator(seed: configuration.seed, cycle: cycle, stream: 0xFFFF_FFFF)
        let kind: KexecKind = Double(g.next() >> 11) * 0x1.0p-53 < configuration.crashKexecFraction ? .crash : .normal
        let memory = vm.machine.memory
        let before = Set(memory.frames(where: \.isExplicitShare))
        let unshareAll = vm.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES")
        let r = vm.kexec(kind)
        var problems: [Problem] = []
        if kernel.phase != .kexeced(kind) {
            problems.append(.init(.machine, "the old kernel is \(kernel.phase) after a \(kind.rawValue) kexec"))
        }
        let calls = vm.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES") - unshareAll
        if calls != (kind == .normal ? 1 : 0) {
            problems.append(
                .init(.invariant, "a \(kind.rawValue) kexec made \(calls) UV_UNSHARE_ALL_PAGES call(s), expected \(kind == .normal ? 1 : 0)"))
        }
        guard let next = vm.kernel, next !== kernel, next.phase == .running else {
            let why = (r.invariantFailures + [vm.kernel?.phase.description ?? "no kernel"]).joined(separator: "; ")
            tally.fail(failure(.machine, cycle: cycle, "after a \(kind.rawValue) kexec the next kernel did not come up: \(why)"))
            return nil
        }
        tally.update { c in
            if kind == .crash { c.crashKexecs += 1 } else { c.normalKexecs += 1 }
        }
        record(problems, cycle: cycle, tally: tally)
        let left: Set<GuestFrameNumber>? = kind == .crash ? before : nil
        checkBoot(vm, kernel: next, cycle: cycle + 1, inherited: left, report: r, tally: tally)
        return NextKernel(inherited: left)
    }

    /// What the next kernel starts with.
    struct NextKernel {
        /// The frames it inherits shared from a crashed kernel (`nil` after a normal kexec).
        let inherited: Set<GuestFrameNumber>?
    }

    /// At the end: any isolation violation not reported yet, with its culprit.
    func finalCheck(_ vm: SecureVirtualMachine, cycle: Int, tally: SoakTally) {
        let count = vm.machine.memory.violationCount
        guard let fresh = tally.claimViolations(upTo: count),
            !Self.unexplainedViolations(fresh, memory: vm.machine.memory, kernel: vm.kernel, tally: tally).isEmpty
        else { return }
        let culprit = vm.kernel?.diagnose().first { $0.kind == .isolationViolation }.map(\.description)
        tally.fail(
            failure(
                .isolationViolation, cycle: cycle,
                "\(fresh.count) isolation violation(s)" + (culprit.map { ", first: \($0)" } ?? "")))
    }

    /// What is wrong with the machine and `kernel` now: the partition stopped, the SVM
    /// killed, faults the kernel recorded, the shared-page audit (after a crash kexec
    /// the next kernel may still see the crashed kernel's shares, `inherited`, and
    /// nothing else), and the façade's invariants.
    private func kernelProblems(
        _ vm: SecureVirtualMachine, kernel: GuestKernel, inherited: Set<GuestFrameNumber>?, label: String,
        report: BootReport? = nil, tally: SoakTally
    ) -> [Problem] {
        var problems: [Problem] = []
        let audit = kernel.audit("soak \(label)")
        tally.noteFindings(audit.ledger.ignoredStatusMismatches.map(\.frame))
        let violations = vm.machine.memory.violationCount
        if let fresh = tally.claimViolations(upTo: violations) {
            let unexplained = Self.unexplainedViolations(fresh, memory: vm.machine.memory, kernel: kernel, tally: tally)
            if !unexplained.isEmpty {
                let culprit = kernel.diagnose().first { $0.kind == .isolationViolation }.map(\.description) ?? "(not kept)"
                problems.append(.init(.isolationViolation, "\(unexplained.count) isolation violation(s), first: \(culprit)"))
            }
        }
        if let stop = vm.machine.stopReason { problems.append(.init(.machine, "the partition stopped: \(stop)")) }
        if let kill = vm.machine.memory.kill { problems.append(.init(.machine, "\(kill)")) }
        let failedShares = kernel.ledger.failedShares
        for f in kernel.faults {
            // A registration refused or a DMA that failed on a page whose share failed
            // while Linux went on: a finding about Linux, not a failure.
            if let a = f.address, failedShares.contains(a.frame) {
                tally.noteFindings([a.frame])
            } else {
                problems.append(.init(.invariant, "kernel fault: \(f)"))
            }
        }
        if let inherited {
            let unknown = audit.ledger.leaks.filter { !inherited.contains($0) }
            if !unknown.isEmpty {
                problems.append(
                    .init(.invariant, "\(unknown.count) page(s) shared that neither ledger knows, first \(unknown[0]): \(audit)"))
            }
            if !audit.ledger.losses.isEmpty || audit.transient > 0 {
                problems.append(.init(.invariant, "shared-page audit \(audit)"))
            }
        } else if !audit.isClean {
            problems.append(.init(.invariant, "shared-page audit \(audit)"))
        }
        problems += Self.invariantFailures(of: vm, report: report).map { .init(.invariant, $0) }
        return problems
    }

    /// The violations of `range` that no finding about Linux explains; the others are
    /// counted as explained. A violation is explained when its page is one the guest
    /// believes shared only because it ignored a failed share's status, as Linux does
    /// (the hypervisor then touches secure memory exactly as it would on hardware).
    static func unexplainedViolations(
        _ range: Range<Int>, memory: GuestMemory, kernel: GuestKernel?, tally: SoakTally
    ) -> [String] {
        if let kernel { tally.noteFindings(Array(kernel.ledger.failedShares)) }
        let records = memory.violations
        let fresh = range.filter { records.indices.contains($0) }.map { records[$0] }
        let unexplained = fresh.filter { !tally.isFinding($0.address.frame) }
        tally.noteExplainedViolations(fresh.count - unexplained.count)
        // Violations past the machine's record limit cannot be judged: they count.
        let lost = range.count - fresh.count
        return unexplained.map(\.description) + (lost > 0 ? ["\(lost) violation(s) past the record limit"] : [])
    }

    /// A problem found between operations.
    struct Problem {
        let kind: SoakFailure.Kind
        let message: String

        init(_ kind: SoakFailure.Kind, _ message: String) {
            self.kind = kind
            self.message = message
        }
    }

    /// Records each problem as a failure; counts the check.
    private func record(_ problems: [Problem], cycle: Int, tally: SoakTally) {
        tally.update { $0.invariantChecks += 1 }
        var seen: Set<String> = []
        for p in problems where seen.insert(p.message).inserted {
            tally.fail(failure(p.kind, cycle: cycle, p.message))
        }
    }
}
