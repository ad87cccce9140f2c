import PEFMachine
import PowerABI

/// Sharing and unsharing (`page_share_with_hv`, `page_unshare_with_hv` in
/// `open-power/ultravisor core/svm_host.c`; reference/ultravisor-facts.md §5.2–5.3).
///
/// **r3 after `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` and `UV_UNSHARE_ALL_PAGES`.** These calls
/// start an Ultravisor "context", and the real firmware returns from them through
/// `ctx_end_context`, which restores the saved frame as it was: on hardware r3 still
/// holds the ultracall number afterwards, whatever happened (§1.1). SVMKit instead
/// writes the status into r3, so that a guest can act on a failure; a guest written
/// for real hardware must not rely on r3 here.
extension Ultravisor {
    /// `UV_SHARE_PAGE` (r4 gfn, r5 npages), from a secure supervisor. See ``share(frames:kind:lpid:for:depth:on:notes:)``.
    func sharePage(_ call: inout FirmwareCall, on machine: Machine) {
        let caller = call.caller
        let depth = call.depth
        rangeCall(&call, on: machine) { frames, lpid, notes in
            share(frames: frames, kind: .explicit, lpid: lpid, for: caller, depth: depth, on: machine, notes: &notes)
        }
    }

    /// `UV_UNSHARE_PAGE` (r4 gfn, r5 npages). See ``unshare(frames:lpid:for:depth:on:notes:)``.
    func unsharePage(_ call: inout FirmwareCall, on machine: Machine) {
        let caller = call.caller
        let depth = call.depth
        rangeCall(&call, on: machine) { frames, lpid, notes in
            unshare(frames: frames, lpid: lpid, for: caller, depth: depth, on: machine, notes: &notes)
        }
    }

    /// The common part of the two range calls: the range, the SVM, and a
    /// partial-progress fault (the first K pages are processed, then the injected status
    /// is returned; see `FaultRule.Action.partial`).
    private func rangeCall(
        _ call: inout FirmwareCall, on machine: Machine,
        _ body: (Range<UInt64>, UInt64, inout [String]) -> UltravisorStatus
    ) {
        let gfn = call[4]
        let npages = call[5]
        let lpid = lpid(of: call, on: machine)
        guard state.withLock({ $0.svms[lpid] != nil }) else {
            call.notes.append("no SVM for LPID \(lpid)")
            return call.finish(UltravisorStatus.parameter)
        }
        let (end, wraps) = gfn.addingReportingOverflow(npages)
        guard !wraps, end <= UInt64.max >> PageSize.shift else { return call.finish(UltravisorStatus.p2) }
        guard npages > 0 else {
            call.notes.append("empty range")
            return call.finish(UltravisorStatus.success)
        }
        var frames = gfn..<end
        var injected: UltravisorStatus?
        if case .partial(let pages, let status)? = call.injectedFault {
            frames = gfn..<(gfn + min(npages, UInt64(max(0, pages))))
            injected = UltravisorStatus(rawValue: status)
        }
        var notes = call.notes
        var status = frames.isEmpty ? UltravisorStatus.success : body(frames, lpid, &notes)
        call.notes = notes
        if status == .success, let injected { status = injected }
        call.finish(status)
    }

    /// Shares `frames` with the hypervisor, all or nothing (`page_share_with_hv`):
    ///
    /// 1. The whole range must lie in the memory slots, else `U_P2`.
    /// 2. A page in a transient state anywhere in the range → `U_P2`, before any change.
    /// 3. Pages already shared (any kind) are skipped: sharing is idempotent.
    /// 4. A paged-out page is first brought in with `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`,
    ///    up to 4 tries; if it is still out, the share is reverted and fails with `U_P2`.
    /// 5. Page by page: state ← `HV_SHARING`, then `H_SVM_PAGE_IN(gpa, SHARED, 16)`; the
    ///    hypervisor answers with `UV_PAGE_IN`, which moves the page to `HV_SHARED`. Any
    ///    failure reverts the pages touched so far (without zeroing) and gives `U_P2`.
    /// 6. Commit: every page becomes ``ShareKind/committedState``. For explicit and
    ///    implicit shares the normal page the hypervisor provided is zeroed (the secure
    ///    contents are not copied out); for a pseudo share the SVM keeps its secure copy
    ///    and the hypervisor gets a fresh zeroed copy of its own.
    func share(
        frames: Range<UInt64>, kind: ShareKind, lpid: UInt64, for caller: Caller, depth: Int, on machine: Machine,
        notes: inout [String]
    ) -> UltravisorStatus {
        guard state.withLock({ $0.svms[lpid]?.slotsCover(frames: frames) ?? false }),
            frames.upperBound <= UInt64(machine.memory.pageCount)
        else {
            notes.append("range outside the memory slots")
            return .p2
        }
        let states = machine.memory.states(of: frames)
        if let i = states.firstIndex(where: \.isTransient) {
            notes.append("page \(gpaText(frames.lowerBound + UInt64(i))) is \(states[i])")
            return .p2
        }
        var touched: [(frame: UInt64, previous: PageState)] = []
        func revert() {
            machine.memory.editPages { e in
                for t in touched where e.state(t.frame).isTransient { e.setState(t.previous, frame: t.frame) }
            }
        }
        let uv = Caller.ultravisor(vcpu: caller.vcpu)
        for (i, frame) in frames.enumerated() {
            var previous = states[i]
            if previous.isShared { continue }
            let gpa = frame << PageSize.shift
            if previous == .pagedOut {
                for _ in 0..<4 where machine.memory.state(of: GuestFrameNumber(rawValue: frame)) == .pagedOut {
                    _ = machine.hypercall(
                        .svmPageIn, [gpa, Hypercall.pageInNonShared, PageSize.shift], from: uv, depth: depth + 1)
                }
                previous = machine.memory.state(of: GuestFrameNumber(rawValue: frame)) ?? .pagedOut
                guard previous == .secure else {
                    notes.append("page \(gpaText(frame)) could not be paged in to share it")
                    revert()
                    return .p2
                }
            }
            let began = machine.memory.editPages { e -> Bool in
                guard e.state(frame) == previous else { return false }
                e.setState(.hypervisorSharing, frame: frame)
                return true
            }
            guard began else {
                revert()
                return .p2
            }
            touched.append((frame, previous))
            let answer = machine.hypercall(
                .svmPageIn, [gpa, Hypercall.pageInShared, PageSize.shift], from: uv, depth: depth + 1)
            let after = machine.memory.state(of: GuestFrameNumber(rawValue: frame))
            guard answer.hypervisorStatus == .success, after == .hypervisorShared || after == .hypervisorSharedInvalid
            else {
                notes.append(
                    "H_SVM_PAGE_IN(shared) for \(gpaText(frame)) gave \(answer.hypervisorStatus.name), page \(after?.name ?? "?")")
                revert()
                return .p2
            }
        }
        machine.memory.editPages { e in
            for run in Self.runs(touched.map(\.frame)) where kind != .pseudo { e.zero(frames: run) }
            for t in touched {
                let invalid = e.state(t.frame) == .hypervisorSharedInvalid
                if kind == .pseudo { e.resetHypervisorCopy(frame: t.frame) }
                e.setState(invalid ? (kind.committedState.invalidated ?? kind.committedState) : kind.committedState,
                    frame: t.frame)
            }
        }
        machine.clock.advance(by: UInt64(touched.count) * machine.configuration.costs.pageZero)
        return .success
    }

    /// Unshares `frames` (`page_unshare_with_hv`):
    ///
    /// 1. The range must lie in the memory slots, else `U_P2`.
    /// 2. A page in a transient state, or one that cannot be unshared (implicit or
    ///    pseudo), anywhere in the range → `U_P2`, before any change.
    /// 3. Secure (and paged-out) pages are skipped.
    /// 4. Each explicitly shared page: state ← `HV_UNSHARING`, then
    ///    `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`; the hypervisor answers with `UV_PAGE_IN`
    ///    (→ `HV_UNSHARED`). A failure here kills the SVM (`svm_abort`).
    /// 5. Every page unshared goes back to its secure page, zeroed.
    func unshare(
        frames: Range<UInt64>, lpid: UInt64, for caller: Caller, depth: Int, on machine: Machine,
        notes: inout [String]
    ) -> UltravisorStatus {
        guard state.withLock({ $0.svms[lpid]?.slotsCover(frames: frames) ?? false }),
            frames.upperBound <= UInt64(machine.memory.pageCount)
        else {
            notes.append("range outside the memory slots")
            return .p2
        }
        let states = machine.memory.states(of: frames)
        if let i = states.firstIndex(where: { $0.isTransient || $0.cannotBeUnshared }) {
            notes.append("page \(gpaText(frames.lowerBound + UInt64(i))) is \(states[i]) and cannot be unshared")
            return .p2
        }
        let targets = frames.enumerated().filter { states[$0.offset].isExplicitShare }.map { ($0.element, states[$0.offset]) }
        return unshare(targets, for: caller, depth: depth, on: machine, notes: &notes)
    }

    /// `UV_UNSHARE_ALL_PAGES` (no arguments): unshares every explicitly shared page of
    /// the caller's SVM (`SHARED` and `SHARED_INV`), zeroing each secure page, and
    /// leaves implicit and pseudo shares alone (reference/ultravisor-facts.md §5.3).
    /// The firmware stops with a failure at a transient page; SVMKit checks every page
    /// first and changes nothing then, answering `U_STATE` (inference: the call has no
    /// argument a `U_Pn` could name).
    func unshareAllPages(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = lpid(of: call, on: machine)
        guard state.withLock({ $0.svms[lpid] != nil }) else {
            call.notes.append("no SVM for LPID \(lpid)")
            return call.finish(UltravisorStatus.parameter)
        }
        if let t = machine.memory.frames(where: \.isTransient).first {
            call.notes.append("page \(gpaText(t.rawValue)) is in a transient state")
            return call.finish(UltravisorStatus.state)
        }
        let targets = machine.memory.frames(where: \.isExplicitShare).map { f in
            (f.rawValue, machine.memory.state(of: f) ?? .shared)
        }
        var notes = call.notes
        let status = unshare(targets, for: call.caller, depth: call.depth, on: machine, notes: &notes)
        call.notes = notes
        call.finish(status)
    }

    private func unshare(
        _ targets: [(UInt64, PageState)], for caller: Caller, depth: Int, on machine: Machine, notes: inout [String]
    ) -> UltravisorStatus {
        let uv = Caller.ultravisor(vcpu: caller.vcpu)
        var done: [UInt64] = []
        for (frame, previous) in targets {
            let began = machine.memory.editPages { e -> Bool in
                guard e.state(frame) == previous else { return false }
                e.setState(previous == .sharedInvalid ? .hypervisorUnsharingInvalid : .hypervisorUnsharing, frame: frame)
                return true
            }
            guard began else { return .p2 }
            let answer = machine.hypercall(
                .svmPageIn, [frame << PageSize.shift, Hypercall.pageInNonShared, PageSize.shift], from: uv,
                depth: depth + 1)
            guard answer.hypervisorStatus == .success,
                machine.memory.state(of: GuestFrameNumber(rawValue: frame)) == .hypervisorUnshared
            else {
                let kill = SVMKill(
                    address: GuestPhysicalAddress(rawValue: frame << PageSize.shift),
                    pageState: machine.memory.state(of: GuestFrameNumber(rawValue: frame)), vcpu: caller.vcpu,
                    reason: "unsharing \(gpaText(frame)) failed (\(answer.hypervisorStatus.name)): svm_abort")
                machine.memory.recordKill(kill)
                machine.stop(.killed(kill))
                notes.append(kill.reason)
                return .p2
            }
            done.append(frame)
        }
        machine.memory.editPages { e in
            for run in Self.runs(done) { e.zero(frames: run) }
            for f in done { e.setState(.secure, frame: f) }
        }
        machine.clock.advance(by: UInt64(done.count) * machine.configuration.costs.pageZero)
        return .success
    }

    /// Groups sorted frames into contiguous ranges (one `madvise` each).
    static func runs(_ frames: [UInt64]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for f in frames {
            if let last = out.last, last.upperBound == f {
                out[out.count - 1] = last.lowerBound..<(f + 1)
            } else {
                out.append(f..<(f + 1))
            }
        }
        return out
    }

    func gpaText(_ frame: UInt64) -> String { "0x" + String(frame << PageSize.shift, radix: 16) }
}
