@_spi(Firmware) import PEFMachine
import PowerABI

/// Sharing and unsharing (`page_share_with_hv`, `page_unshare_with_hv`,
/// `page_unshare_all_with_hv` in `open-power/ultravisor core/svm_host.c`;
/// reference/ultravisor-facts.md §5.2–5.3).
///
/// **r3 after `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` and `UV_UNSHARE_ALL_PAGES`.** These calls
/// start an Ultravisor "context", and the real firmware returns from them through
/// `ctx_end_context`, which restores the saved frame as it was: on hardware r3 still
/// holds the ultracall number afterwards, whatever happened (§1.1; `core/uvcall.c:
/// uv_switch_page`, `uv_unshare_all_pages`). Under ``PEFMachine/FirmwareProfile/openPower`` SVMKit does the
/// same (only "no SVM", `U_FUNCTION`, reaches r3); under
/// ``PEFMachine/FirmwareProfile/documented`` it writes the status into r3 as
/// ultravisor.rst describes. Linux ignores the value either way.
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

    /// Ends a share, unshare or unshare-all call the way the configured firmware does:
    /// the status in r3 (`documented`), or r3 left at the ucall number with the status
    /// only in the trace notes (`open-power`, `ctx_end_context` restoring the frame).
    private func finishContextCall(_ call: inout FirmwareCall, _ status: UltravisorStatus) {
        guard configuration.firmware == .openPower else { return call.finish(status) }
        call.notes.append("status \(status.name); r3 left at the ucall number (ctx_end_context)")
        call.registers.r3 = call.number
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
            // ctx_new_context_svm() finds no SVM: U_FUNCTION (core/uvcall.c, uv_ucall_svm).
            call.notes.append("no SVM for LPID \(lpid)")
            return call.finish(UltravisorStatus.function)
        }
        let (end, wraps) = gfn.addingReportingOverflow(npages)
        guard !wraps, end <= UInt64.max >> PageSize.shift else { return finishContextCall(&call, .p2) }
        guard npages > 0 else {
            call.notes.append("empty range")
            return finishContextCall(&call, .success)
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
        finishContextCall(&call, status)
    }

    /// Kills the SVM as `svm_abort()` does from inside a share context.
    private func abortSVM(_ frame: UInt64, _ reason: String, caller: Caller, on machine: Machine, notes: inout [String]) {
        let kill = SVMKill(
            address: GuestPhysicalAddress(rawValue: frame << PageSize.shift),
            pageState: machine.memory.state(of: GuestFrameNumber(rawValue: frame)), vcpu: caller.vcpu,
            reason: reason + ": svm_abort")
        machine.memory.recordKill(kill)
        machine.stop(.killed(kill))
        notes.append(kill.reason)
    }

    /// `unshare_gfn()`: state ← `HV_UNSHARING`, `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`, and
    /// on success `HV_UNSHARED` (whether or not the hypervisor called `UV_PAGE_IN`).
    /// Returns the hypervisor's status.
    private func unshareFrame(_ frame: UInt64, uv: Caller, depth: Int, on machine: Machine) -> HypervisorStatus {
        machine.memory.editPages { e in
            let s = e.state(frame)
            e.setState(s.isInvalidated ? .hypervisorUnsharingInvalid : .hypervisorUnsharing, frame: frame)
        }
        let answer = machine.hypercall(
            .svmPageIn, [frame << PageSize.shift, Hypercall.pageInNonShared, PageSize.shift], from: uv, depth: depth + 1)
        if answer.hypervisorStatus == .success {
            machine.memory.editPages { $0.setState(.hypervisorUnshared, frame: frame) }
        }
        return answer.hypervisorStatus
    }

    /// Shares `frames` with the hypervisor as `page_share_with_hv()` does:
    ///
    /// 1. The whole range must lie in the memory slots, else `U_P2`.
    /// 2. Page by page: a page already shared (any kind) is skipped (idempotent); a page
    ///    in a transient state → `U_P2` **at once, without reverting** the pages this
    ///    call already moved to `HV_SHARED` (they stay transient, as on the firmware);
    ///    a paged-out page is first brought in with `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`
    ///    (the firmware's `max_tries` loop, post-decrement included); then state ←
    ///    `HV_SHARING` and `H_SVM_PAGE_IN(gpa, SHARED, 16)`; the hypervisor answers with
    ///    `UV_PAGE_IN` (→ `HV_SHARED`).
    /// 3. A failed hcall stops the loop: `revert_transient_pages_to_secure()` over the
    ///    pages up to and including the failed one: each `HV_SHARED` page is unshared
    ///    with `H_SVM_PAGE_IN(gpa, NONSHARED, 16)` (a failure → `svm_abort`); an
    ///    `HV_SHARING` page makes the firmware mark the range's **first** frame secure
    ///    (its `gfn` for `gfn + j` bug); then every page not shared becomes secure again
    ///    (not zeroed). Result `U_P2`.
    /// 4. Commit: every page becomes ``ShareKind/committedState``. For explicit and
    ///    implicit shares the normal page the hypervisor provided is zeroed (the secure
    ///    contents are not copied out); for a pseudo share the SVM keeps its secure copy
    ///    and the hypervisor gets a fresh zeroed copy of its own.
    func share(
        frames: Range<UInt64>, kind: ShareKind, lpid: UInt64, for caller: Caller, depth: Int, on machine: Machine,
        notes: inout [String]
    ) -> UltravisorStatus {
        guard rangeIsInSlots(frames, lpid: lpid, on: machine, notes: &notes) else { return .p2 }
        let uv = Caller.ultravisor(vcpu: caller.vcpu)
        func current(_ frame: UInt64) -> PageState { machine.memory.state(of: GuestFrameNumber(rawValue: frame)) ?? .normal }
        var touched: [UInt64] = []
        // Pages this call found not yet paged in (SVMKit's `normal`, the firmware's
        // default SECURE entry): a revert gives them back as they were.
        var wereNormal = Set<UInt64>()
        var failedAt: UInt64?
        for frame in frames {
            var state = current(frame)
            if state.isShared { continue }
            if state.isTransient {
                notes.append("page \(gpaText(frame)) is \(state): U_P2, earlier pages of the range left as they are")
                return .p2
            }
            let gpa = frame << PageSize.shift
            var maxTries = 4
            var failed = false
            while state == .pagedOut {
                let tryAgain = maxTries != 0
                maxTries -= 1
                guard tryAgain else { break }
                let answer = machine.hypercall(
                    .svmPageIn, [gpa, Hypercall.pageInNonShared, PageSize.shift], from: uv, depth: depth + 1)
                if answer.hypervisorStatus != .success {
                    failed = true
                    break
                }
                state = current(frame)
            }
            if failed || maxTries == 0 {
                notes.append("page \(gpaText(frame)) could not be paged in to share it")
                failedAt = frame
                break
            }
            if state == .normal { wereNormal.insert(frame) }
            machine.memory.editPages { $0.setState(.hypervisorSharing, frame: frame) }
            touched.append(frame)
            let answer = machine.hypercall(
                .svmPageIn, [gpa, Hypercall.pageInShared, PageSize.shift], from: uv, depth: depth + 1)
            if answer.hypervisorStatus != .success {
                notes.append("H_SVM_PAGE_IN(shared) for \(gpaText(frame)) gave \(answer.hypervisorStatus.name)")
                failedAt = frame
                break
            }
        }
        if let failedAt {
            revertToSecure(
                frames.lowerBound...failedAt, wereNormal: wereNormal, uv: uv, caller: caller, depth: depth, on: machine,
                notes: &notes)
            return .p2
        }
        machine.memory.editPages { e in
            let pending = touched.filter { !e.state($0).isShared }
            for run in Self.runs(pending) where kind != .pseudo { e.zero(frames: run) }
            for f in pending {
                let invalid = e.state(f) == .hypervisorSharedInvalid
                if kind == .pseudo { e.resetHypervisorCopy(frame: f) }
                e.setState(invalid ? (kind.committedState.invalidated ?? kind.committedState) : kind.committedState, frame: f)
            }
        }
        machine.clock.advance(by: UInt64(touched.count) * machine.configuration.costs.pageZero)
        return .success
    }

    /// `revert_transient_pages_to_secure()` over `range` (see ``share(frames:kind:lpid:for:depth:on:notes:)``).
    /// `wereNormal`: pages that were not paged in yet when the share began; one
    /// still `HV_SHARING` goes back to that (the hypervisor never took it).
    private func revertToSecure(
        _ range: ClosedRange<UInt64>, wereNormal: Set<UInt64>, uv: Caller, caller: Caller, depth: Int,
        on machine: Machine, notes: inout [String]
    ) {
        for frame in range {
            let state = machine.memory.state(of: GuestFrameNumber(rawValue: frame)) ?? .normal
            if state.isShared || state.isSecureGroup || state == .normal { continue }
            if state == .hypervisorSharing {
                // The firmware's svm_secure_gfn(svm, gfn, false) names the range's first
                // frame, not this one: a first frame that was shared becomes secure.
                machine.memory.editPages { e in
                    if e.state(range.lowerBound).isShared { e.setState(.secure, frame: range.lowerBound) }
                }
                continue
            }
            guard state == .hypervisorShared || state == .hypervisorSharedInvalid else {
                return abortSVM(frame, "reverting \(gpaText(frame)) found it \(state)", caller: caller, on: machine,
                    notes: &notes)
            }
            let status = unshareFrame(frame, uv: uv, depth: depth, on: machine)
            guard status == .success else {
                return abortSVM(frame, "reverting \(gpaText(frame)) failed (\(status.name))", caller: caller,
                    on: machine, notes: &notes)
            }
        }
        machine.memory.editPages { e in
            for frame in range where e.state(frame).isTransient {
                let back: PageState = e.state(frame) == .hypervisorSharing && wereNormal.contains(frame) ? .normal : .secure
                e.setState(back, frame: frame)
            }
        }
    }

    /// Unshares `frames` (`page_unshare_with_hv`):
    ///
    /// 1. The range must lie in the memory slots, else `U_P2`.
    /// 2. A page in a transient state, or one that cannot be unshared (implicit or
    ///    pseudo), anywhere in the range → `U_P2`, before any change.
    /// 3. Secure (and paged-out) pages are skipped.
    /// 4. Each explicitly shared page: `unshare_gfn()` (state ← `HV_UNSHARING`,
    ///    `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`, then `HV_UNSHARED`). A failure here kills
    ///    the SVM (`svm_abort`).
    /// 5. Every page unshared goes back to its secure page, zeroed.
    func unshare(
        frames: Range<UInt64>, lpid: UInt64, for caller: Caller, depth: Int, on machine: Machine,
        notes: inout [String]
    ) -> UltravisorStatus {
        guard rangeIsInSlots(frames, lpid: lpid, on: machine, notes: &notes) else { return .p2 }
        let states = machine.memory.states(of: frames)
        if let i = states.firstIndex(where: { $0.isTransient || $0.cannotBeUnshared }) {
            notes.append("page \(gpaText(frames.lowerBound + UInt64(i))) is \(states[i]) and cannot be unshared")
            return .p2
        }
        let uv = Caller.ultravisor(vcpu: caller.vcpu)
        var done: [UInt64] = []
        for (i, frame) in frames.enumerated() where states[i].isExplicitShare {
            let status = unshareFrame(frame, uv: uv, depth: depth, on: machine)
            guard status == .success else {
                abortSVM(frame, "unsharing \(gpaText(frame)) failed (\(status.name))", caller: caller, on: machine,
                    notes: &notes)
                return .p2
            }
            done.append(frame)
        }
        secureZeroed(done, on: machine)
        return .success
    }

    /// Returns unshared frames to their secure pages, zeroed (`svm_secure_gfn(…, true)`).
    private func secureZeroed(_ frames: [UInt64], on machine: Machine) {
        machine.memory.editPages { e in
            for run in Self.runs(frames) { e.zero(frames: run) }
            for f in frames { e.setState(.secure, frame: f) }
        }
        machine.clock.advance(by: UInt64(frames.count) * machine.configuration.costs.pageZero)
    }

    /// `UV_UNSHARE_ALL_PAGES` (no arguments), as `page_unshare_all_with_hv()` walks the
    /// SVM's pagemap in frame order: implicit, pseudo and secure pages are skipped;
    /// each `SHARED`/`SHARED_INV` page is unshared (`unshare_gfn()`) and its secure page
    /// zeroed, one by one. A transient page, or a hypervisor failure, **stops the walk
    /// with the pages before it already unshared**; a hypervisor failure does not kill
    /// the SVM here. The failure status is `U_STATE` under `documented` (inference: the
    /// firmware has none, and under `open-power` r3 keeps the ucall number).
    func unshareAllPages(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = lpid(of: call, on: machine)
        guard state.withLock({ $0.svms[lpid] != nil }) else {
            call.notes.append("no SVM for LPID \(lpid)")
            return call.finish(UltravisorStatus.function)
        }
        let uv = Caller.ultravisor(vcpu: call.caller.vcpu)
        let candidates = machine.memory.frames(where: { !$0.isSecureGroup && !$0.cannotBeUnshared && $0 != .normal })
        var done: [UInt64] = []
        var status = UltravisorStatus.success
        for f in candidates {
            let frame = f.rawValue
            let state = machine.memory.state(of: f) ?? .normal
            guard state.isExplicitShare else {
                call.notes.append("page \(gpaText(frame)) is \(state): stopped, \(done.count) page(s) unshared before it")
                status = .state
                break
            }
            let answer = unshareFrame(frame, uv: uv, depth: call.depth, on: machine)
            guard answer == .success else {
                call.notes.append("unsharing \(gpaText(frame)) failed (\(answer.name)): stopped, SVM not aborted")
                status = .state
                break
            }
            secureZeroed([frame], on: machine)
            done.append(frame)
        }
        finishContextCall(&call, status)
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

    /// The range check share and unshare begin with: every frame in the SVM's memory
    /// slots and in memory; otherwise a note (the caller answers `U_P2`).
    private func rangeIsInSlots(_ frames: Range<UInt64>, lpid: UInt64, on machine: Machine, notes: inout [String])
        -> Bool
    {
        guard state.withLock({ $0.svms[lpid]?.slotsCover(frames: frames) ?? false }),
            frames.upperBound <= UInt64(machine.memory.pageCount)
        else {
            notes.append("range outside the memory slots")
            return false
        }
        return true
    }
}
