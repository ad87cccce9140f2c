@_spi(Firmware) import PEFMachine
import PowerABI

/// Work the Ultravisor does on behalf of the vCPU whose call it is handling: who that
/// vCPU is, its LPID, and the nesting depth of the call (hypercalls made for it go one
/// level deeper).
package struct UltravisorContext {
    let machine: Machine
    let caller: Caller
    let depth: Int
    let lpid: UInt64

    /// The context of `call`.
    package init(call: FirmwareCall, machine: Machine, lpid: UInt64) {
        self.machine = machine
        self.caller = call.caller
        self.depth = call.depth
        self.lpid = lpid
    }

    /// The Ultravisor as a hypercall caller for this vCPU.
    var ultravisorCaller: Caller { .ultravisor(vcpu: caller.vcpu) }

    /// `do_hcall` for this vCPU.
    func hypercall(_ number: Hypercall, _ arguments: [UInt64] = []) -> FirmwareCall {
        machine.hypercall(number, arguments, from: ultravisorCaller, depth: depth + 1)
    }
}

/// The steps `UV_ESM` is built from (`core/uvcall.c` `uv_esm_svm`, `core/pagein_track.c`,
/// `core/svm_host.c`; reference/ultravisor-facts.md §2). Each is tested on its own; the
/// secure-boot issue strings them together in `Ultravisor+ESM.swift`.
extension Ultravisor {
    /// The partition-table dw0 the Ultravisor installs at commit: PATB_HR | RTS | the
    /// address of the SVM's partition-scoped PGD (in secure memory) | RADIX_PGD_INDEX_SIZE.
    static func securePartitionTableDoubleword0(lpid: UInt64) -> UInt64 {
        let patbHR: UInt64 = 1 << 63
        let rts: UInt64 = (0x2 << 61) | (0x5 << 5)
        let pgd = HostMemory.secureMemoryBit | ((lpid & 0xFFFF_FFFF) << PageSize.shift)
        return patbHR | rts | pgd | 13
    }

    /// `create_svm(lpid)`: a new SVM record (``SVMLifecycle/created``) with a fresh
    /// page-out key and IV prefix from the machine's seeded generator. If one exists
    /// already the firmware's `U_BUSY` reaches the caller as `U_RETRY` (§2.1 step 5).
    package func createSVM(lpid: UInt64, on machine: Machine) -> UltravisorStatus {
        let exists = state.withLock { $0.svms[lpid] != nil }
        if exists { return .retry }
        let svm = SVMState(lpid: lpid, memoryPages: machine.memory.pageCount, random: machine.random)
        return state.withLock { s in
            guard s.svms[lpid] == nil else { return .retry }
            s.svms[lpid] = svm
            return .success
        }
    }

    /// Forgets an SVM record without touching memory (the "context could not start"
    /// paths of §2.1 step 6).
    func destroySVM(lpid: UInt64) {
        state.withLock { _ = $0.svms.removeValue(forKey: lpid) }
    }

    /// `H_SVM_INIT_START` (§2.3); on `H_SUCCESS` the SVM is ``SVMLifecycle/initializing``.
    /// The hypervisor registers the memory slots while it handles the call.
    package func startInitialization(_ context: UltravisorContext) -> HypervisorStatus {
        let status = context.hypercall(.svmInitStart).hypervisorStatus
        if status == .success {
            state.withLock { $0.svms[context.lpid]?.lifecycle = .initializing }
        }
        return status
    }

    /// `get_page_range(gpa, len)` (§2.4): pages in every 64 KiB frame of the range that
    /// this ESM has not paged in yet (the tracking bitmap) and that is still normal,
    /// with `H_SVM_PAGE_IN(gpa, NONSHARED, 16)`; the hypervisor answers with
    /// `UV_PAGE_IN`. An untouched page is paged in without copying anything.
    ///
    /// Fails (returning `false`, with the reason in `notes`) for a zero length, a range
    /// outside the memory slots, a frame the 2^24-bit bitmap cannot track, a call after
    /// the SVM is secure, or any non-zero answer.
    func pageIn(_ context: UltravisorContext, address: GuestPhysicalAddress, length: UInt64, notes: inout [String])
        -> Bool
    {
        guard length > 0 else {
            notes.append("get_page_range: zero length at \(address)")
            return false
        }
        let (end, wraps) = address.rawValue.addingReportingOverflow(length)
        guard !wraps else {
            notes.append("get_page_range: \(address) + 0x\(String(length, radix: 16)) wraps")
            return false
        }
        let first = address.rawValue >> PageSize.shift
        let last = (end - 1) >> PageSize.shift
        let check: String? = state.withLock { s in
            guard let svm = s.svms[context.lpid] else { return "no SVM" }
            guard svm.lifecycle != .secure else { return "the SVM is already secure" }
            guard svm.slotsCover(frames: first..<(last + 1)) else { return "range outside the memory slots" }
            guard last < UInt64(SVMState.trackableFrames) else { return "GPA beyond the 1 TiB page-in bitmap" }
            return nil
        }
        if let check {
            notes.append("get_page_range(\(address), 0x\(String(length, radix: 16))): \(check)")
            return false
        }
        for frame in first...last {
            if state.withLock({ $0.svms.access(context.lpid) { $0.pageInTracking.contains(frame) } ?? false }) { continue }
            let current = context.machine.memory.state(of: GuestFrameNumber(rawValue: frame))
            if current == .normal {
                let answer = context.hypercall(
                    .svmPageIn, [frame << PageSize.shift, Hypercall.pageInNonShared, PageSize.shift])
                let now = context.machine.memory.state(of: GuestFrameNumber(rawValue: frame))
                guard answer.hypervisorStatus == .success, now == .secure else {
                    notes.append(
                        "get_page_range: H_SVM_PAGE_IN(\(gpaText(frame))) gave \(answer.hypervisorStatus.name), page \(now?.name ?? "?")")
                    return false
                }
            }
            state.withLock { _ = $0.svms[context.lpid]?.pageInTracking.insert(frame) }
        }
        return true
    }

    /// Shares a range the Ultravisor chose itself: ``ShareKind/implicit`` for its bounce
    /// pages, ``ShareKind/pseudo`` for the guest's RTAS area (§2.5, §2.6, §5.1), through
    /// the full protocol of ``share(frames:kind:lpid:for:depth:on:notes:)``.
    package func share(_ context: UltravisorContext, frames: Range<UInt64>, kind: ShareKind, notes: inout [String])
        -> UltravisorStatus
    {
        share(
            frames: frames, kind: kind, lpid: context.lpid, for: context.caller, depth: context.depth,
            on: context.machine, notes: &notes)
    }

    /// `H_SVM_INIT_DONE` (§2.8 step 1). KVM answers it without a single `UV_PAGE_IN`:
    /// `kvmppc_uv_migrate_mem_slot()` moves every page the Ultravisor did not ask for to
    /// device-private memory with `kvmppc_svm_page_in(…, pagein=false)`
    /// (`arch/powerpc/kvm/book3s_hv_uvmem.c`, 5.9+, 6.12), because the Ultravisor backed
    /// every memslot page with secure memory at `UV_REGISTER_MEM_SLOT`
    /// (`core/svm_host.c: populate_memslot_secure_pages`). So once the hypervisor says
    /// yes, every page of the slots not paged in yet is a secure page: SVMKit changes
    /// their states here, without copying. On hardware those pages are fresh secure
    /// memory [inference]; in SVMKit they keep the bytes they had (a documented
    /// divergence: nothing in the guest reads them before writing).
    package func finishInitialization(_ context: UltravisorContext) -> HypervisorStatus {
        let status = context.hypercall(.svmInitDone).hypervisorStatus
        guard status == .success else { return status }
        let slots = memorySlots(of: context.lpid)
        let machine = context.machine
        machine.memory.editPages { e in
            for slot in slots {
                let first = slot.start.rawValue >> PageSize.shift
                let end = min(first + (slot.size >> PageSize.shift), UInt64(e.pageCount))
                guard first < end else { continue }
                for f in first..<end where e.state(f) == .normal { e.setState(.secure, frame: f) }
            }
        }
        return status
    }

    /// The abort path (§2.9): the SVM becomes ``SVMLifecycle/aborted`` and the
    /// Ultravisor issues `H_SVM_INIT_ABORT` for the vCPU; the hypervisor pages the
    /// secure pages out (which in this state succeeds without copying), calls
    /// `UV_SVM_TERMINATE` and answers `H_PARAMETER`, which is what the guest finds in r3
    /// as the result of its `UV_ESM`. It resumes after its `sc 2`, still a normal VM.
    func abortInitialization(_ context: UltravisorContext, call: inout FirmwareCall) {
        state.withLock { s in
            s.svms[context.lpid]?.lifecycle = .aborted
            s.svms[context.lpid]?.pageInTracking.removeAll()
        }
        let answer = context.hypercall(.svmInitAbort)
        call.registers.r3 = answer.registers.r3
        call.resume = nil
        call.notes.append("aborted: H_SVM_INIT_ABORT answered \(answer.hypervisorStatus.name)")
    }

    /// `svm_esm_commit` and the return frame (§2.8 steps 3–4): dw0 of the partition
    /// table becomes the Ultravisor's tree, the SVM is ``SVMLifecycle/secure``, and the
    /// vCPU does not resume after its `sc 2`: it enters at `entry` with MSR = its MSR |
    /// S, HV and EE cleared, and `registers` (register number → value; UV_ESM passes
    /// r3 = fdt, r4 = kbase, r5 = 0). The page-in tracking bitmap is freed.
    package func commit(_ context: UltravisorContext, call: inout FirmwareCall, entry: UInt64, registers: [Int: UInt64]) {
        state.withLock { s in
            s.svms[context.lpid]?.lifecycle = .secure
            s.svms[context.lpid]?.pageInTracking.removeAll()
            var entryValue = s.partitionTable[context.lpid] ?? PartitionTableEntry(doubleword0: 0, doubleword1: 0)
            entryValue.doubleword0 = Self.securePartitionTableDoubleword0(lpid: context.lpid)
            s.partitionTable[context.lpid] = entryValue
        }
        for (register, value) in registers { call.registers[register] = value }
        let msr = call.caller.msr.union(.secure).subtracting([.hypervisor, .externalInterrupts])
        call.resume = ResumePoint(pc: entry, msr: msr)
    }

    /// `svm_initiate_kill` (§2.9): after the SVM is secure, a failure terminates it with
    /// an `ibm,os-term` of the Ultravisor's own (token 0x201F, nargs 1, nret 1,
    /// args[0] = 0) from page 0 of the RTAS area. If `H_RTAS` returns, the real firmware
    /// `abort()`s: recorded as an anomaly. Returns the hypervisor's status.
    ///
    /// With args[0] = 0 the hypervisor looks for the message at GPA 0, which is secure:
    /// the read is recorded as the hypervisor's isolation violation and, as on KVM,
    /// pages GPA 0 out, so the message the hypervisor reads is ciphertext (with
    /// `--hv-touch stop` the read fails and the partition stops with no message).
    @discardableResult
    func initiateKill(_ context: UltravisorContext, reason: String) -> HypervisorStatus {
        guard let bounce = rtasBounceState(lpid: context.lpid) else {
            let kill = SVMKill(address: nil, pageState: nil, vcpu: context.caller.vcpu, reason: reason)
            context.machine.memory.recordKill(kill)
            context.machine.stop(.killed(kill))
            return .hardware
        }
        let args = RTASArguments(token: RTASService.osTerm.qemuToken, arguments: [0], returnCount: 1)
        let (status, _) = issueRTAS(
            args, at: bounce.argumentsPage, for: context.caller, depth: context.depth, on: context.machine)
        if !context.machine.isStopped {
            recordAnomaly(
                "svm_initiate_kill", "H_RTAS(ibm,os-term) returned: the real Ultravisor abort()s", on: context.machine,
                caller: context.caller)
        }
        return status
    }
}
