@_spi(Firmware) import PEFMachine
import PowerABI

/// The RTAS bounce area of one SVM: 6 implicitly shared pages reserved by `UV_ESM`
/// (`svm/svm-rtas.c`, `svm/svm-rtas-bbuf.c`; reference/ultravisor-facts.md §2.5, §5.4):
/// page 0 for the Ultravisor's own `ibm,os-term`, pages 1–4 a pool of 64 buffers of
/// 4096 bytes, page 5 one 16-byte `stop-self` slot per vCPU.
struct RTASBounceState: Sendable {
    static let pageCount = 6
    static let bufferBytes = 4096
    static let bufferCount = 64
    static let warnAt = 32
    static let stopSelfSlotBytes = 16

    let base: GuestPhysicalAddress
    /// Service name → token, from `/rtas` at `UV_ESM` (stored globally in the firmware,
    /// per SVM here).
    let tokens: [String: UInt32]
    let maximumProcessors: Int
    var inUse: UInt64 = 0
    /// The FWNMI machine-check handler registered with `ibm,nmi-register` (default 0x200).
    var machineCheckHandler: UInt64 = 0x200

    var argumentsPage: GuestPhysicalAddress { base }
    var frames: Range<UInt64> { base.frame.rawValue..<(base.frame.rawValue + UInt64(Self.pageCount)) }

    func buffer(_ index: Int) -> GuestPhysicalAddress {
        GuestPhysicalAddress(rawValue: base.rawValue + PageSize.bytes + UInt64(index * Self.bufferBytes))
    }

    func stopSelfSlot(_ vcpu: Int) -> GuestPhysicalAddress {
        GuestPhysicalAddress(
            rawValue: base.rawValue + 5 * PageSize.bytes + UInt64((vcpu % 4096) * Self.stopSelfSlotBytes))
    }

    func service(for token: UInt32) -> String? { tokens.first { $0.value == token }?.key }
}

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

    private func allocateBounceBuffer(lpid: UInt64, notes: inout [String]) -> Int? {
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

    private func freeBounceBuffer(lpid: UInt64, _ index: Int) {
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

    /// An SVM's `H_RTAS(r4 = its rtas_args)`, bounced (reference/ultravisor-facts.md §5.4):
    /// pin the pages; copy token, nargs, nret and the arguments into a pool buffer (or the
    /// vCPU's `stop-self` slot); run the service's pre-handler (data buffers move to
    /// bounce buffers); `H_RTAS(bounce buffer)`; copy the return cells back; run the
    /// post-handler; free the buffers. A handler problem is only noted: the call is
    /// still made, as in the firmware.
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
        let nargs = Int(BigEndian.u32(header, 4))
        let nret = Int(BigEndian.u32(header, 8))
        guard nargs <= RTASArguments.cellCapacity, nret <= RTASArguments.cellCapacity - nargs else {
            recordAnomaly(
                "H_RTAS(nargs \(nargs), nret \(nret))",
                "the real Ultravisor copies nargs cells without checking them against the 16-entry array",
                on: machine, caller: call.caller)
            return call.finish(HypervisorStatus.parameter)
        }
        let blockBytes = 12 + 4 * (nargs + nret)
        guard let raw = try? memory.read(.ultravisor, at: guestBlock, count: blockBytes, purpose: "H_RTAS args"),
            var args = RTASArguments(decoding: raw)
        else { return call.finish(HypervisorStatus.parameter) }
        guard pinBouncePages(bounce, for: call.caller, depth: call.depth, on: machine) else {
            return call.finish(HypervisorStatus.hardware)
        }

        let service = bounce.service(for: args.token)
        let known = service.flatMap(RTASService.init(rawValue:))
        var notes = call.notes
        var buffers: [Int] = []
        defer { for b in buffers { freeBounceBuffer(lpid: lpid, b) } }
        func allocate() -> GuestPhysicalAddress? {
            guard let i = allocateBounceBuffer(lpid: lpid, notes: &notes) else { return nil }
            buffers.append(i)
            let gpa = bounce.buffer(i)
            try? memory.zero(.ultravisor, at: gpa, count: RTASBounceState.bufferBytes)
            return gpa
        }
        func arg(_ i: Int) -> UInt32 { i < args.arguments.count ? args.arguments[i] : 0 }
        /// Replaces argument `i`; a block too short to have it is left alone (a handler
        /// problem, only noted, as in the firmware).
        func setArg(_ i: Int, _ value: UInt32) {
            if i < args.arguments.count {
                args.arguments[i] = value
            } else {
                notes.append("\(service ?? "RTAS"): nargs \(nargs) has no argument \(i)")
            }
        }
        /// Copies `count` guest bytes at `guest` into a new bounce buffer; its address.
        func bounceIn(_ guest: UInt32, count: Int) -> UInt32? {
            guard count <= RTASBounceState.bufferBytes, let buffer = allocate() else {
                notes.append("\(service ?? "RTAS"): buffer of \(count) bytes not bounced")
                return nil
            }
            if count > 0, let bytes = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(guest)), count: count) {
                try? memory.write(.ultravisor, at: buffer, bytes: bytes)
            }
            return UInt32(truncatingIfNeeded: buffer.rawValue)
        }
        func bounceOut(_ buffer: UInt32, to guest: UInt32, count: Int) {
            guard count > 0, count <= RTASBounceState.bufferBytes,
                let bytes = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(buffer)), count: count)
            else { return }
            do {
                try memory.write(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(guest)), bytes: bytes)
            } catch {
                notes.append("\(service ?? "RTAS"): copy back failed: \(error)")
            }
        }

        // Pre-handlers: data buffers move into bounce buffers.
        let original = args.arguments
        switch known {
        case .checkException, .eventScan:
            let (bufferIndex, lengthIndex) = known == .checkException ? (4, 5) : (2, 3)
            let length = Int(arg(lengthIndex))
            if length <= RTASBounceState.bufferBytes, let b = bounceIn(arg(bufferIndex), count: 0) {
                setArg(bufferIndex, b)
            } else {
                notes.append("\(service ?? ""): length \(length) over 4096")
            }
        case .configureConnector:
            if arg(1) != 0 { notes.append("ibm,configure-connector: extra memory extent not supported") }
            if let b = bounceIn(arg(0), count: RTASBounceState.bufferBytes) { setArg(0, b) }
        case .getSystemParameter:
            let length = Int(arg(2))
            if length <= RTASBounceState.bufferBytes, let b = bounceIn(arg(1), count: 0) {
                setArg(1, b)
            } else {
                notes.append("ibm,get-system-parameter: length \(length) over 4096")
            }
        case .setSystemParameter:
            let guest = GuestPhysicalAddress(rawValue: UInt64(arg(1)))
            let length = (try? memory.readBigEndian(.ultravisor, at: guest, as: UInt16.self)).map(Int.init) ?? 0
            // The firmware copies "length" bytes; SVMKit copies the 2-byte length too, so
            // the hypervisor sees the whole parameter.
            if length + 2 <= RTASBounceState.bufferBytes, let b = bounceIn(arg(1), count: length + 2) {
                setArg(1, b)
            } else {
                notes.append("ibm,set-system-parameter: length \(length) over 4096")
            }
        case .osTerm:
            let message =
                (try? memory.readCString(
                    .ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(arg(0))),
                    maxLength: RTASBounceState.bufferBytes - 1)) ?? []
            if let buffer = allocate() {
                try? memory.write(.ultravisor, at: buffer, bytes: message + [0])
                setArg(0, UInt32(truncatingIfNeeded: buffer.rawValue))
            }
        case .nvramFetch:
            let length = Int(arg(2))
            if length <= RTASBounceState.bufferBytes, let b = bounceIn(arg(1), count: 0) {
                setArg(1, b)
            } else {
                notes.append("nvram-fetch: length \(length) over 4096")
            }
        case .nvramStore:
            let length = Int(arg(2))
            if length <= RTASBounceState.bufferBytes, let b = bounceIn(arg(1), count: length) {
                setArg(1, b)
            } else {
                notes.append("nvram-store: length \(length) over 4096")
            }
        case .startCPU:
            let cpu = UInt64(arg(0))
            if cpu < UInt64(bounce.maximumProcessors) {
                let cookie: UInt64 = state.withLock { s in
                    let c = s.nextStartCPUCookie
                    s.nextStartCPUCookie &+= 1
                    s.startCPURequests[c] = StartCPURequest(
                        lpid: lpid, cpu: cpu, startHere: UInt64(arg(1)), r3: UInt64(arg(2)))
                    return c
                }
                setArg(2, UInt32(truncatingIfNeeded: cookie))
            } else {
                notes.append("start-cpu: cpu \(cpu) ≥ vcpus.max \(bounce.maximumProcessors)")
            }
        default:
            break
        }

        // The block itself: the vCPU's stop-self slot, or a pool buffer.
        let block: GuestPhysicalAddress
        if known == .stopSelf, nargs + nret <= 1 {
            block = bounce.stopSelfSlot(call.caller.vcpu ?? 0)
        } else if let b = allocate() {
            block = b
        } else {
            call.notes = notes
            return call.finish(HypervisorStatus.resource)
        }
        var encoded = args.encoded
        encoded.removeSubrange(blockBytes...)
        guard (try? memory.write(.ultravisor, at: block, bytes: encoded)) != nil else {
            call.notes = notes
            return call.finish(HypervisorStatus.hardware)
        }
        let answer = machine.hypercall(
            .rtas, [block.rawValue], from: .ultravisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
        if let back = try? memory.read(
            .ultravisor, at: GuestPhysicalAddress(rawValue: block.rawValue + UInt64(12 + 4 * nargs)), count: 4 * nret)
        {
            try? memory.write(
                .ultravisor, at: GuestPhysicalAddress(rawValue: guestBlock.rawValue + UInt64(12 + 4 * nargs)),
                bytes: back)
            args.returns = (0..<nret).map { BigEndian.u32(back, 4 * $0) }
        }
        // Post-handlers: the status is the first return cell (args[nargs] in the firmware's
        // numbering), bytes done the second.
        let returns = args.returns
        func ret(_ i: Int) -> UInt32 { i < returns.count ? returns[i] : 0 }
        switch known {
        case .checkException, .eventScan:
            let (bufferIndex, lengthIndex) = known == .checkException ? (4, 5) : (2, 3)
            if ret(0) == 0, bufferIndex < args.arguments.count, args.arguments[bufferIndex] != original[bufferIndex] {
                bounceOut(args.arguments[bufferIndex], to: original[bufferIndex], count: Int(arg(lengthIndex)))
            }
        case .configureConnector:
            let status = Int32(bitPattern: ret(0))
            if status >= 0 || status == -2, !original.isEmpty, args.arguments[0] != original[0] {
                bounceOut(args.arguments[0], to: original[0], count: RTASBounceState.bufferBytes)
            }
        case .getSystemParameter:
            if ret(0) == 0, args.arguments.count > 2, args.arguments[1] != original[1],
                let length = try? memory.readBigEndian(
                .ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(args.arguments[1])), as: UInt16.self)
            {
                bounceOut(args.arguments[1], to: original[1], count: min(Int(length) + 2, Int(arg(2))))
            }
        case .nvramFetch:
            if ret(0) == 0, args.arguments.count > 2, args.arguments[1] != original[1] {
                bounceOut(args.arguments[1], to: original[1], count: Int(ret(1)))
            }
        case .nmiRegister:
            if ret(0) == 0 {
                let handler = UInt64(arg(1))
                state.withLock { $0.svms[lpid]?.rtas?.machineCheckHandler = handler }
            }
        default:
            break
        }
        notes.append("bounced through \(block)")
        call.notes = notes
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

/// Big-endian helpers for the Ultravisor's parsing.
enum BigEndian {
    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else { return 0 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}
