@_spi(Firmware) import PEFMachine
import PowerABI

/// Hypercalls from a secure vCPU (`core/hvcall.c`, `core/exceptions.c`,
/// `core/hcall-regs.c`; reference/ultravisor-facts.md §1.4).
extension Ultravisor {
    /// An `sc 1` from a secure vCPU:
    ///
    /// - `H_RANDOM` is answered here from the machine's seeded generator (r4) and never
    ///   reaches the hypervisor, as `doc/ultravisor.rst` and the issue say. Note: the
    ///   firmware at HEAD does not do this yet; it answers `H_FUNCTION` at once with a
    ///   "@todo: handle H_RANDOM locally" (§1.4).
    /// - An hcall missing from `hcall_regs_table` (`Hypercall.reflectedRegisterCounts` is
    ///   `nil`) makes the real Ultravisor `_abort` (`core/hcall-regs.c: get_n_hcall_regs`):
    ///   under `open-power` the machine stops with a firmware crash; under `documented`
    ///   SVMKit answers `H_FUNCTION` and records an ``UltravisorAnomaly``.
    /// - `H_RTAS` goes through the RTAS bounce buffers once `UV_ESM` set them up
    ///   (`Ultravisor+RTASBounce.swift`).
    /// - Every other hcall is reflected (``reflect(_:inputs:outputs:on:)``). After
    ///   `H_CEDE` the vCPU returns with MSR(EE) set.
    func secureHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        let hcall = Hypercall(rawValue: call.number)
        if hcall == .random {
            call[4] = machine.random.next()
            call.notes.append("answered by the Ultravisor")
            return call.finish(HypervisorStatus.success)
        }
        guard let counts = hcall.reflectedRegisterCounts else {
            recordAnomaly(
                hcall.name, "not in hcall_regs_table: the real Ultravisor _aborts (get_n_hcall_regs)", on: machine,
                caller: call.caller)
            call.notes.append("not in hcall_regs_table (the real Ultravisor aborts)")
            if crashIfOpenPower("\(hcall.name) is not in hcall_regs_table: _abort (get_n_hcall_regs)", on: machine) {
                return call.finish(HypervisorStatus.hardware)
            }
            return call.finish(HypervisorStatus.function)
        }
        if hcall == .rtas, let bounce = rtasBounceState(lpid: lpid(of: call, on: machine)) {
            return bounceRTAS(&call, state: bounce, on: machine)
        }
        reflect(&call, inputs: counts.inputs, outputs: counts.outputs, on: machine)
        if hcall == .cede { call.resume = ResumePoint(msr: call.caller.msr.union(.externalInterrupts)) }
    }

    /// Reflects an hcall to the hypervisor: r3 … r(3 + inputs − 1) are copied, every other
    /// GPR is filled from the seeded generator, and r31 carries the reflection cookie
    /// (§1.4, §7). The hypervisor answers with `UV_RETURN`; r3 … r(3 + outputs − 1) are
    /// copied back and every other register of the vCPU is left as it was. If no
    /// `UV_RETURN` came (an injected fault), the vCPU gets `H_HARDWARE`.
    func reflect(_ call: inout FirmwareCall, inputs: Int, outputs: Int, on machine: Machine) {
        var scrubbed = [UInt64](repeating: 0, count: 32)
        machine.random.fill(&scrubbed, indices: 0..<32)
        var registers = Registers()
        for i in 0..<32 { registers[i] = scrubbed[i] }
        for i in 3..<min(31, 3 + max(1, inputs)) { registers[i] = call.registers[i] }
        let vcpu = call.caller.vcpu
        let cookie: UInt64 = state.withLock { s in
            let c = s.nextCookie
            s.nextCookie &+= 1
            s.reflections[c] = PendingReflection(vcpu: vcpu, results: nil)
            return c
        }
        registers[31] = cookie
        _ = machine.reflectHypercall(registers, depth: call.depth + 1, for: call.caller)
        let results = state.withLock { $0.reflections.removeValue(forKey: cookie)?.results }
        guard let results else {
            call.notes.append("the hypervisor never came back with UV_RETURN")
            return call.finish(HypervisorStatus.hardware)
        }
        for i in 0..<max(1, outputs) where 3 + i < 31 { call.registers[3 + i] = results[3 + i] }
    }

    /// `UV_RETURN` (hypervisor only): r0 = the hcall's status, r4–r12 = its outputs,
    /// r31 = the cookie of the reflection it answers. Doesn't "return" to the hypervisor
    /// on hardware; in SVMKit the router records `U_SUCCESS`.
    ///
    /// A cookie in r0 that belongs to an RTAS `start-cpu` the Ultravisor rewrote starts
    /// that vCPU at its `start_here` with MSR = SF | ME | S and its original r3 (§5.4;
    /// SVMKit's hypervisor enters a new secure vCPU with the cookie in r0).
    ///
    /// Any other cookie makes the real firmware assert or abort (§7): SVMKit answers
    /// `U_PARAMETER` and records an ``UltravisorAnomaly``.
    func returnFromHypervisor(_ call: inout FirmwareCall, on machine: Machine) {
        let cookie = call[31]
        var results = Registers()
        results.r3 = call[0]
        for i in 4...12 { results[i] = call[i] }
        let matched: Bool = state.withLock { s in
            guard let pending = s.reflections[cookie], pending.results == nil else { return false }
            s.reflections[cookie]?.results = results
            return true
        }
        if matched { return call.finish(UltravisorStatus.success) }
        if let request = state.withLock({ $0.startCPURequests.removeValue(forKey: call[0]) }),
            let vcpu = machine.processor(Int(clamping: request.cpu))
        {
            vcpu.update { s in
                s.pc = request.startHere
                s.msr = [.sixtyFourBit, .machineCheck, .secure]
                s.registers.r3 = request.r3
                s.isRunning = true
            }
            call.notes.append("start-cpu: vcpu \(request.cpu) enters secure at 0x\(String(request.startHere, radix: 16))")
            return call.finish(UltravisorStatus.success)
        }
        recordAnomaly(
            "UV_RETURN(cookie 0x\(String(cookie, radix: 16)))",
            "no reflection has this cookie: the real Ultravisor asserts or aborts", on: machine, caller: call.caller)
        call.finish(UltravisorStatus.parameter)
    }

    /// A secure vCPU touched a normal, paged-out or invalidated page: ask the hypervisor
    /// for it with `H_SVM_PAGE_IN` (non-shared for a private page, shared for an
    /// invalidated share), retrying on `H_BUSY` up to 4 times, as the v5.9 fixes do
    /// (reference/linux-guest-facts.md §3.6).
    func resolvePageFault(_ fault: PageFault, on machine: Machine) -> Bool {
        let flags: UInt64
        switch fault.state {
        case .normal, .pagedOut: flags = Hypercall.pageInNonShared
        case .sharedInvalid, .pseudoSharedInvalid: flags = Hypercall.pageInShared
        default: return false
        }
        let lpid = machine.processor(fault.vcpu)?.lpidr ?? machine.lpid
        guard let lifecycle = lifecycle(of: lpid), lifecycle == .secure || lifecycle == .initializing else {
            return false
        }
        let gpa = fault.frame.rawValue << PageSize.shift
        machine.traceEvent(
            "PAGE_FAULT", caller: Caller(kind: .guest, vcpu: fault.vcpu, msr: .guestKernel.union(.secure)),
            note: "vcpu \(fault.vcpu) \(fault.access.rawValue) 0x\(String(gpa, radix: 16)) (\(fault.state))")
        for _ in 0..<4 {
            let answer = machine.hypercall(
                .svmPageIn, [gpa, flags, PageSize.shift], from: .ultravisor(vcpu: fault.vcpu), depth: 1)
            if answer.hypervisorStatus != .busy { break }
        }
        guard let now = machine.memory.state(of: fault.frame) else { return false }
        return now == .secure || now == .shared || now == .pseudoShared
    }
}
