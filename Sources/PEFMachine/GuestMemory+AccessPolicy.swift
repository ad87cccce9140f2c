import PowerABI

/// The isolation rule table and how an access is planned: every page of a range is
/// checked for the actor, violations and kills are recorded, and a secure vCPU's (or
/// the hypervisor's) page faults are resolved through the fault handlers before the
/// bytes move (the byte accessors are in `GuestMemory+Access.swift`).
extension GuestMemory {
    /// The access rule table (see the type's documentation). `held` says whether a
    /// paged-out page's ciphertext is in its own backing; `pageOut` whether hypervisor
    /// accesses to secure pages page them out.
    static func decide(_ state: PageState, for caller: Caller, held: Bool = false, pageOut: Bool = false)
        -> AccessDecision
    {
        switch caller.kind {
        case .ultravisor:
            return state == .pagedOut ? .unavailable : .mapping
        case .guest where caller.msr.contains(.secure):
            switch state {
            case .secure, .shared, .pseudoShared: return .mapping
            case .normal, .pagedOut, .sharedInvalid, .pseudoSharedInvalid: return .fault
            case .sharedImplicit, .sharedImplicitInvalid: return .kill
            default: return .unavailable
            }
        case .hypervisor where pageOut && (state == .secure || state == .pagedOut):
            return held ? .mapping : .hypervisorFault
        case .hypervisor, .guest:
            // A normal vCPU sees exactly what the hypervisor sees: normal memory.
            switch state {
            case .secure, .pagedOut, .hypervisorSharing, .hypervisorUnshared: return .violation
            case .pseudoShared, .pseudoSharedInvalid: return .pseudoCopy
            default: return .mapping
            }
        }
    }

    /// What `plan` found for a range.
    enum Plan {
        /// Every page may be touched; `allMapping` if none needs its pseudo copy.
        case ready(allMapping: Bool)
        /// Faults the fault handler must resolve first.
        case fault([PageFault])
        /// The access fails (recorded if the rule table says so).
        case failed(MemoryAccessError)
    }

    /// Checks every page of the range for `caller` and records what must be recorded.
    /// `pageOut`: a hypervisor fault handler is installed, so a hypervisor access to a
    /// secure page faults to it; `record`: record such an access (first attempt only).
    func plan(
        _ t: inout PageTable, caller: Caller, address: UInt64, count: Int, access: MemoryAccessKind,
        purpose: String?, pageOut: Bool = false, record: Bool = true
    ) -> Plan {
        guard count > 0 else { return .ready(allMapping: true) }
        let first = Int(address >> PageSize.shift)
        let last = Int((address + UInt64(count) - 1) >> PageSize.shift)
        var allMapping = true
        var faults: [PageFault] = []
        for f in first...last {
            let state = t.states[f]
            let touched = GuestPhysicalAddress(rawValue: max(address, UInt64(f) << PageSize.shift))
            let held = state == .pagedOut && t.hypervisorHeld.contains(UInt64(f))
            switch Self.decide(state, for: caller, held: held, pageOut: pageOut) {
            case .mapping:
                if held, access == .write, caller.kind == .hypervisor { t.hypervisorWritten.insert(UInt64(f)) }
                continue
            case .hypervisorFault:
                if record, state == .secure {
                    t.record(
                        IsolationViolation(
                            address: touched, pageState: state, caller: caller, access: access, purpose: purpose,
                            handling: .pageOut))
                }
                faults.append(
                    PageFault(
                        frame: GuestFrameNumber(rawValue: UInt64(f)), state: state, vcpu: caller.vcpu ?? 0,
                        access: access))
            case .pseudoCopy: allMapping = false
            case .violation:
                let v = IsolationViolation(
                    address: touched, pageState: state, caller: caller, access: access, purpose: purpose)
                t.record(v)
                return .failed(.isolationViolation(v))
            case .kill:
                let k = SVMKill(
                    address: touched, pageState: state, vcpu: caller.vcpu,
                    reason: "\(caller) touched implicitly shared page \(touched) (\(state))"
                        + (purpose.map { " for " + $0 } ?? ""))
                if t.kill == nil { t.kill = k }
                return .failed(.svmKilled(k))
            case .fault:
                faults.append(
                    PageFault(
                        frame: GuestFrameNumber(rawValue: UInt64(f)), state: state, vcpu: caller.vcpu ?? 0,
                        access: access))
            case .unavailable:
                return .failed(.pageUnavailable(address: touched, state: state, caller: caller))
            }
        }
        return faults.isEmpty ? .ready(allMapping: allMapping) : .fault(faults)
    }

    /// Checks the range for the actor (resolving a secure vCPU's page faults through the
    /// fault handler, outside the lock) and runs `body` under the table's mutex.
    func perform<R>(
        _ actor: MemoryActor, address: GuestPhysicalAddress, count: Int, access: MemoryAccessKind,
        purpose: String?, _ body: (inout PageTable, _ caller: Caller, _ allMapping: Bool) -> R
    ) throws(MemoryAccessError) -> R {
        guard count >= 0, contains(address, count: UInt64(count)) else {
            throw .outOfRange(address: address, count: UInt64(max(count, 0)), memoryBytes: byteCount)
        }
        let caller = actor.caller
        var lastFault: PageFault?
        let hypervisorHandler = caller.kind == .hypervisor ? currentHypervisorFaultHandler : nil
        for attempt in 0..<4 {
            let outcome: Result<R, MemoryAccessError>? = table.withLock { t in
                switch plan(&t, caller: caller, address: address.rawValue, count: count, access: access,
                    purpose: purpose, pageOut: hypervisorHandler != nil, record: attempt == 0)
                {
                case .ready(let allMapping): return .success(body(&t, caller, allMapping))
                case .failed(let e): return .failure(e)
                case .fault(let faults):
                    lastFault = faults.first
                    return nil
                }
            }
            switch outcome {
            case .success(let r): return r
            case .failure(let e): throw e
            case nil:
                guard let handler = hypervisorHandler ?? currentFaultHandler else { break }
                for fault in faultsToResolve(
                    address: address, count: count, caller: caller, access: access, pageOut: hypervisorHandler != nil)
                {
                    _ = handler(fault)
                }
                continue
            }
            break
        }
        let f = lastFault ?? PageFault(frame: address.frame, state: .normal, vcpu: caller.vcpu ?? 0, access: access)
        if hypervisorHandler != nil, let v = violations.last(where: { $0.address.frame == f.frame }) {
            // kvmppc_uvmem_migrate_to_ram() failed: VM_FAULT_SIGBUS, the access fails.
            throw .isolationViolation(v)
        }
        throw .pageUnavailable(
            address: f.frame.address ?? address, state: state(of: f.frame) ?? f.state, caller: caller)
    }

    /// The faults the range has for `caller` now, to hand to the fault handler.
    func faultsToResolve(
        address: GuestPhysicalAddress, count: Int, caller: Caller, access: MemoryAccessKind, pageOut: Bool = false
    ) -> [PageFault] {
        guard count > 0 else { return [] }
        let first = address.rawValue >> PageSize.shift
        let last = (address.rawValue + UInt64(count) - 1) >> PageSize.shift
        return table.withLock { t in
            (first...last).compactMap { f in
                let s = t.states[Int(f)]
                let held = s == .pagedOut && t.hypervisorHeld.contains(f)
                let d = Self.decide(s, for: caller, held: held, pageOut: pageOut)
                return d == .fault || d == .hypervisorFault
                    ? PageFault(frame: GuestFrameNumber(rawValue: f), state: s, vcpu: caller.vcpu ?? 0, access: access)
                    : nil
            }
        }
    }
}
