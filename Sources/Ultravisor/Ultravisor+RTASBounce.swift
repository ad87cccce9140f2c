@_spi(Firmware) import PEFMachine
import DeviceTree
import PowerABI

extension Ultravisor {
    /// Sets up RTAS bounce buffering for an SVM: what `svm_rtas`'s FDT handler does
    /// once it has reserved the 6 pages at `base` and looked up the tokens. The caller
    /// (UV_ESM) shares the pages implicitly itself. Returns `false` if there is no SVM.
    @discardableResult
    package func configureRTASBounce(
        lpid: UInt64, base: GuestPhysicalAddress, tokens: [String: UInt32], maximumProcessors: Int
    ) -> Bool {
        state.withLock { s in
            guard s.svms[lpid] != nil else { return false }
            s.svms[lpid]?.rtas = RTASBounceState(base: base, tokens: tokens, maximumProcessors: maximumProcessors)
            return true
        }
    }

    /// The RTAS bounce set-up of an SVM, if any.
    func rtasBounceState(lpid: UInt64) -> RTASBounceState? { state.withLock { $0.svms[lpid]?.rtas } }

    /// The FWNMI machine-check handler an SVM registered (0x200 by default).
    public func machineCheckHandler(of lpid: UInt64) -> UInt64? {
        state.withLock { $0.svms[lpid]?.rtas?.machineCheckHandler }
    }

    /// Pool buffers in use for an SVM (0 between calls).
    public func rtasBuffersInUse(of lpid: UInt64) -> Int {
        state.withLock { $0.svms[lpid]?.rtas?.inUse.nonzeroBitCount ?? 0 }
    }

    func allocateBounceBuffer(lpid: UInt64, notes: inout [String]) -> Int? {
        let index: Int? = state.withLock { s in
            guard let used = s.svms[lpid]?.rtas?.inUse, used != UInt64.max else { return nil }
            let i = (~used).trailingZeroBitCount
            s.svms[lpid]?.rtas?.inUse |= 1 << UInt64(i)
            return i
        }
        if let index, index >= RTASBounceState.warnAt { notes.append("RTAS bounce pool: \(index + 1) buffers in use") }
        if index == nil { notes.append("RTAS bounce pool exhausted (64 buffers)") }
        return index
    }

    func freeBounceBuffer(lpid: UInt64, _ index: Int) {
        state.withLock { $0.svms[lpid]?.rtas?.inUse &= ~(1 << UInt64(index)) }
    }

    /// Makes sure the 6 bounce pages are mapped: a page the hypervisor invalidated is
    /// paged in again with `H_SVM_PAGE_IN(SHARED)`, up to 10 tries; after that the SVM
    /// is killed (`svm_pin_pages`).
    func pinBouncePages(_ bounce: RTASBounceState, for caller: Caller, depth: Int, on machine: Machine) -> Bool {
        for frame in bounce.frames {
            var tries = 0
            while machine.memory.state(of: GuestFrameNumber(rawValue: frame))?.isInvalidated == true {
                guard tries < 10 else {
                    let kill = SVMKill(
                        address: GuestPhysicalAddress(rawValue: frame << PageSize.shift), pageState: .sharedImplicitInvalid,
                        vcpu: caller.vcpu, reason: "RTAS bounce page \(gpaText(frame)) could not be pinned")
                    machine.memory.recordKill(kill)
                    machine.stop(.killed(kill))
                    return false
                }
                tries += 1
                _ = machine.hypercall(
                    .svmPageIn, [frame << PageSize.shift, Hypercall.pageInShared, PageSize.shift],
                    from: .ultravisor(vcpu: caller.vcpu), depth: depth + 1)
            }
        }
        return true
    }

    /// An SVM's `H_RTAS(r4 = its rtas_args)`, bounced (`svm/svm-rtas.c: svm_rtas`,
    /// open-power/ultravisor 6366959; reference/ultravisor-facts.md §5.4): pin the
    /// pages; copy token, nargs, nret and the arguments into a pool buffer (or the
    /// vCPU's `stop-self` slot); run the service's pre-handler from
    /// ``rtasBounceHandlers`` (data buffers move to bounce buffers); `H_RTAS(bounce
    /// buffer)`; copy the return cells back; run the post-handler; free the buffers. A
    /// handler problem is only noted: the call is still made, as in the firmware.
    ///
    /// Unlike the firmware, SVMKit refuses a block with nargs + nret > 16 with
    /// `H_PARAMETER` (the firmware does not check nargs against the 16-entry array:
    /// recorded as an anomaly).
    func bounceRTAS(_ call: inout FirmwareCall, state bounce: RTASBounceState, on machine: Machine) {
        let lpid = lpid(of: call, on: machine)
        let guestBlock = GuestPhysicalAddress(rawValue: call[4])
        let memory = machine.memory
        guard let header = try? memory.read(.ultravisor, at: guestBlock, count: 12, purpose: "H_RTAS args") else {
            call.notes.append("rtas_args at \(guestBlock) unreadable")
            return call.finish(HypervisorStatus.parameter)
        }
        let nargs = Int(BigEndianCells.u32(header, at: 4))
        let nret = Int(BigEndianCells.u32(header, at: 8))
        guard nargs <= RTASArguments.cellCapacity, nret <= RTASArguments.cellCapacity - nargs else {
            recordAnomaly(
                "H_RTAS(nargs \(nargs), nret \(nret))",
                "the real Ultravisor copies nargs cells without checking them against the 16-entry array",
                on: machine, caller: call.caller)
            return call.finish(HypervisorStatus.parameter)
        }
        let blockBytes = 12 + 4 * (nargs + nret)
        guard let raw = try? memory.read(.ultravisor, at: guestBlock, count: blockBytes, purpose: "H_RTAS args"),
            let args = RTASArguments(decoding: raw)
        else { return call.finish(HypervisorStatus.parameter) }
        guard pinBouncePages(bounce, for: call.caller, depth: call.depth, on: machine) else {
            return call.finish(HypervisorStatus.hardware)
        }

        var bounced = RTASBounceCall(
            ultravisor: self, memory: memory, lpid: lpid, bounce: bounce, args: args, notes: call.notes)
        defer { for b in bounced.buffers { freeBounceBuffer(lpid: lpid, b) } }
        let known = bounced.service.flatMap(RTASService.init(rawValue:))
        let handler = known.flatMap { Self.rtasBounceHandlers[$0] }
        handler?.pre?(&bounced)

        // The block itself: the vCPU's stop-self slot, or a pool buffer.
        let block: GuestPhysicalAddress
        if known == .stopSelf, nargs + nret <= 1 {
            block = bounce.stopSelfSlot(call.caller.vcpu ?? 0)
        } else if let b = bounced.allocate() {
            block = b
        } else {
            call.notes = bounced.notes
            return call.finish(HypervisorStatus.resource)
        }
        var encoded = bounced.args.encoded
        encoded.removeSubrange(blockBytes...)
        guard (try? memory.write(.ultravisor, at: block, bytes: encoded)) != nil else {
            call.notes = bounced.notes
            return call.finish(HypervisorStatus.hardware)
        }
        let answer = machine.hypercall(
            .rtas, [block.rawValue], from: .ultravisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
        let returnsOffset = UInt64(12 + 4 * nargs)
        if let back = try? memory.read(
            .ultravisor, at: GuestPhysicalAddress(rawValue: block.rawValue + returnsOffset), count: 4 * nret)
        {
            try? memory.write(
                .ultravisor, at: GuestPhysicalAddress(rawValue: guestBlock.rawValue + returnsOffset), bytes: back)
            bounced.args.returns = (0..<nret).map { BigEndianCells.u32(back, at: 4 * $0) }
        }
        handler?.post?(&bounced)
        bounced.notes.append("bounced through \(block)")
        call.notes = bounced.notes
        call.registers.r3 = answer.registers.r3
    }

    /// Issues an RTAS call of the Ultravisor's own from a bounce block at `block`
    /// (an implicitly shared page): writes the block, `H_RTAS(block)`, reads it back.
    /// `svm_initiate_kill` uses page 0 of the RTAS area for `ibm,os-term` this way.
    /// Returns the hypervisor's status and the block as it left it (if readable).
    func issueRTAS(
        _ arguments: RTASArguments, at block: GuestPhysicalAddress, for caller: Caller, depth: Int,
        on machine: Machine
    ) -> (status: HypervisorStatus, block: RTASArguments?) {
        guard (try? machine.memory.write(.ultravisor, at: block, bytes: arguments.encoded)) != nil else {
            return (.hardware, nil)
        }
        let answer = machine.hypercall(.rtas, [block.rawValue], from: .ultravisor(vcpu: caller.vcpu), depth: depth + 1)
        let back = (try? machine.memory.read(.ultravisor, at: block, count: RTASArguments.byteCount))
            .flatMap(RTASArguments.init(decoding:))
        return (answer.hypervisorStatus, back)
    }
}
