import PowerABI

/// The call router: where every `sc 1` and `sc 2` goes, with the caller's privilege
/// checked on every call (reference/ultravisor-facts.md §1.1, §1.4).
///
/// - `sc 2` goes to the Ultravisor when PEF is enabled; without PEF (or with no
///   Ultravisor attached) it goes to the hypervisor, which fails it with `H_FUNCTION`
///   (the same value as `U_FUNCTION`). Before the Ultravisor sees an ultracall the
///   router checks: an undefined number → `U_FUNCTION`; a caller in hypervisor state
///   with transactional memory active or suspended (MSR[TS] ≠ 0) → `U_BAD_MODE`,
///   except for `UV_RETURN`; a caller whose (S, HV, PR) the call does not admit →
///   `U_PERMISSION` (`UV_ESMB_GET_FILE` admits every caller).
/// - `sc 1` from guest problem state (PR=1) → `H_PRIVILEGE`. (KVM reflects such an
///   `sc 1` to the guest kernel as a system call; SVMKit has no kernel below the
///   vCPU to reflect to, so it answers with the PAPR status.) From a secure vCPU
///   (S=1) on a PEF machine it goes to the Ultravisor, which answers `H_RANDOM` itself
///   and reflects every other hcall to the hypervisor through
///   ``reflectHypercall(_:depth:for:)``. From a normal vCPU it goes straight to the
///   hypervisor.
/// - The firmware parts call each other through ``hypercall(_:from:depth:)`` and
///   ``ultracall(_:from:depth:)``: the same checks, the same trace, the same faults.
/// - Once the partition has stopped, a vCPU's `sc 1` gets `H_HARDWARE` and its
///   `sc 2` gets `U_HARDWARE`.
extension Machine {
    /// A vCPU's `sc 1` or `sc 2` (depth 0). ``VirtualProcessor`` calls this.
    func systemCall(level: CallLevel, registers: Registers, caller: Caller) -> FirmwareCall {
        routed(FirmwareCall(registers: registers, caller: caller, level: level, depth: 0))
    }

    /// A hypercall made by firmware (the Ultravisor's `do_hcall`), at `depth`.
    @_spi(Firmware) public func hypercall(_ registers: Registers, from caller: Caller, depth: Int) -> FirmwareCall {
        routed(FirmwareCall(registers: registers, caller: caller, level: .sc1, depth: depth))
    }

    /// A hypercall made by firmware: `number` in r3, `arguments` from r4, every other
    /// register zero.
    @_spi(Firmware) public func hypercall(_ number: Hypercall, _ arguments: [UInt64] = [], from caller: Caller, depth: Int)
        -> FirmwareCall
    {
        hypercall(Registers(r3: number.rawValue, arguments: arguments), from: caller, depth: depth)
    }

    /// An ultracall made by firmware (the hypervisor's `sc 2`), at `depth`.
    @_spi(Firmware) public func ultracall(_ registers: Registers, from caller: Caller, depth: Int) -> FirmwareCall {
        routed(FirmwareCall(registers: registers, caller: caller, level: .sc2, depth: depth))
    }

    /// An ultracall made by firmware: `number` in r3, `arguments` from r4.
    @_spi(Firmware) public func ultracall(_ number: Ultracall, _ arguments: [UInt64] = [], from caller: Caller, depth: Int)
        -> FirmwareCall
    {
        ultracall(Registers(r3: number.rawValue, arguments: arguments), from: caller, depth: depth)
    }

    /// The Ultravisor hands a secure vCPU's hcall to the hypervisor (`registers` already
    /// scrubbed), and the hypervisor's answer comes back the way it does on hardware:
    /// the hypervisor makes a `UV_RETURN` ultracall with the status in r0, its outputs
    /// in r4–r12 and the reflection cookie in r31 (reference/ultravisor-facts.md §7).
    /// Both steps are in the trace. Returns the registers as the hypervisor left them.
    @_spi(Firmware) public func reflectHypercall(_ registers: Registers, depth: Int, for caller: Caller) -> FirmwareCall {
        var delivered = FirmwareCall(registers: registers, caller: caller, level: .reflection, depth: depth)
        route(&delivered)
        var back = Registers(r3: Ultracall.return.rawValue)
        back[0] = delivered.registers.r3
        for r in 4...12 { back[r] = delivered.registers[r] }
        back[31] = delivered.registers[31]
        var uvReturn = FirmwareCall(
            registers: back, caller: .hypervisor(vcpu: caller.vcpu), level: .sc2, depth: depth)
        route(&uvReturn)
        return delivered
    }

    /// Adds an event to the trace at the current simulated time.
    @_spi(Firmware) public func traceEvent(_ name: String, caller: Caller, depth: Int = 0, note: String) {
        trace.event(name, caller: caller, depth: depth, time: clock.now, note: note)
    }

    // MARK: The router

    private func cost(of level: CallLevel) -> UInt64 {
        switch level {
        case .sc1: configuration.costs.hypercall
        case .sc2: configuration.costs.ultracall
        case .reflection: configuration.costs.reflection
        case .event: 0
        }
    }

    private static func traceArguments(_ call: FirmwareCall) -> [UInt64] {
        let r = call.registers
        switch call.level {
        case .sc2:
            let u = Ultracall(rawValue: call.number)
            if u == .return { return [r[0]] + (4...12).map { r[$0] } }
            return (0..<CallSignature.argumentCount(u)).map { r[4 + $0] }
        case .sc1, .reflection:
            return (0..<CallSignature.argumentCount(Hypercall(rawValue: call.number))).map { r[4 + $0] }
        case .event:
            return []
        }
    }

    private static func traceOutputs(_ call: FirmwareCall) -> [UInt64] {
        let r = call.registers
        switch call.level {
        case .sc2:
            guard let range = CallSignature.outputRegisters(Ultracall(rawValue: call.number)) else { return [] }
            return range.map { r[$0] }
        case .sc1, .reflection:
            return (0..<CallSignature.outputCount(Hypercall(rawValue: call.number))).map { r[4 + $0] }
        case .event:
            return []
        }
    }

    /// `call` after routing: what `route(_:)` left in it.
    private func routed(_ call: FirmwareCall) -> FirmwareCall {
        var call = call
        route(&call)
        return call
    }

    func route(_ call: inout FirmwareCall) {
        let index = trace.begin(
            level: call.level, caller: call.caller, depth: call.depth, number: call.number,
            arguments: Self.traceArguments(call), time: clock.now)
        clock.advance(by: cost(of: call.level))
        defer {
            trace.end(
                index, result: Int64(bitPattern: call.registers.r3), outputs: Self.traceOutputs(call),
                time: clock.now, notes: call.notes)
        }

        if call.depth == 0, call.caller.kind == .guest, let stop = stopReason {
            call.registers.r3 =
                call.level == .sc2 ? UltravisorStatus.hardware.register : HypervisorStatus.hardware.register
            call.notes.append("partition stopped (\(stop))")
            return
        }

        if call.level == .sc1 || call.level == .sc2,
            let action = faults.evaluate(level: call.level, number: call.number, caller: call.caller)
        {
            let u = Ultracall(rawValue: call.number)
            if case .partial(let pages, _) = action, call.level == .sc2, u == .sharePage || u == .unsharePage {
                call.injectedFault = action
                call.notes.append("fault injected: stop after \(pages) page(s)")
            } else if call.level == .sc1, Hypercall(rawValue: call.number) == .svmInitStart {
                // KVM's handler sets KVMPPC_SECURE_INIT_START before anything can fail
                // (book3s_hv_uvmem.c: kvmppc_h_svm_init_start, 6.12): the handler takes
                // the injected status after doing that.
                call.injectedFault = action
                call.notes.append(
                    "fault injected: \(CallSignature.statusName(level: call.level, status: action.status))")
            } else {
                call.registers.r3 = UInt64(bitPattern: action.status)
                call.notes.append("fault injected: \(CallSignature.statusName(level: call.level, status: action.status))")
                return
            }
        }

        switch call.level {
        case .sc2: deliverUltracall(&call)
        case .sc1: deliverHypercall(&call)
        case .reflection:
            if let hv = hypervisor {
                hv.handleHypercall(&call, on: self)
            } else {
                call.finish(HypervisorStatus.function)
            }
        case .event: break
        }
    }

    private func deliverUltracall(_ call: inout FirmwareCall) {
        guard configuration.pefEnabled, let uv = ultravisor else {
            call.notes.append("no Ultravisor: sc 2 reaches the hypervisor")
            if let hv = hypervisor {
                hv.handleHypercall(&call, on: self)
            } else {
                call.finish(HypervisorStatus.function)
            }
            return
        }
        let ucall = Ultracall(rawValue: call.number)
        guard let allowed = ucall.allowedCaller else {
            call.finish(UltravisorStatus.function)
            return
        }
        let p = call.caller.privilege
        if p.isHypervisor, !p.isProblem, !call.caller.msr.intersection(.transactionState).isEmpty {
            if ucall == .return {
                call.notes.append("TM active on UV_RETURN: the real UV injects a program interrupt into the SVM")
            } else {
                call.finish(UltravisorStatus.badMode)
                return
            }
        }
        guard allowed.admits(p) else {
            call.finish(UltravisorStatus.permission)
            return
        }
        uv.handleUltracall(&call, on: self)
    }

    private func deliverHypercall(_ call: inout FirmwareCall) {
        let p = call.caller.privilege
        if call.caller.kind == .guest, p.isProblem {
            call.finish(HypervisorStatus.privilege)
            call.notes.append("sc 1 from problem state")
            return
        }
        if call.caller.kind == .guest, p.isSecure, configuration.pefEnabled, let uv = ultravisor {
            uv.handleSecureHypercall(&call, on: self)
            return
        }
        guard let hv = hypervisor else {
            call.finish(HypervisorStatus.function)
            return
        }
        hv.handleHypercall(&call, on: self)
    }
}
