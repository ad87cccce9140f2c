@_spi(Firmware) import PEFMachine
import PowerABI

/// What the Ultravisor does around one RTAS service it bounces: a pre-handler before
/// `H_RTAS` (data buffers move into bounce buffers) and a post-handler after it (results
/// move back), as the firmware's `struct svm_rtas_hdlr` with its
/// `RTAS_HDLR_PRE`/`RTAS_HDLR_POST` calls (`svm/svm-rtas-hdlr.h`, open-power/ultravisor
/// 6366959). A `nil` step does nothing (the firmware's step only logs).
struct RTASBounceHandler: Sendable {
    /// One step of a handler, on the call being bounced.
    typealias Step = @Sendable (inout RTASBounceCall) -> Void

    /// Runs before `H_RTAS`.
    let pre: Step?
    /// Runs after `H_RTAS`, once the return cells are back in the guest's block.
    let post: Step?

    init(pre: Step? = nil, post: Step? = nil) {
        self.pre = pre
        self.post = post
    }
}

extension Ultravisor {
    /// The per-service handlers, keyed by service, after the firmware's table
    /// `svm/svm-rtas-hdlr.c: svm_rtas_hdlrs` (open-power/ultravisor 6366959), which
    /// `svm/svm-rtas.c: svm_rtas_pre_hdlr` and `svm_rtas_post_hdlr` search by token.
    /// A service not in the table is bounced with no handler. `slot-error-detail` and
    /// `power-off` are in the firmware's table only to log, so they have no steps here.
    static let rtasBounceHandlers: [RTASService: RTASBounceHandler] = [
        // svm_rtas_chk_excp_hdlr: args[4] is the buffer, args[5] its length.
        .checkException: outputBuffer(argument: 4, length: 5),
        // svm_rtas_event_scan_hdlr: args[2] is the buffer, args[3] its length.
        .eventScan: outputBuffer(argument: 2, length: 3),
        .configureConnector: RTASBounceHandler(pre: configureConnectorPre, post: configureConnectorPost),
        .getSystemParameter: RTASBounceHandler(pre: getSystemParameterPre, post: getSystemParameterPost),
        .setSystemParameter: RTASBounceHandler(pre: setSystemParameterPre),
        .slotErrorDetail: RTASBounceHandler(),
        .osTerm: RTASBounceHandler(pre: osTermPre),
        .nvramFetch: RTASBounceHandler(pre: nvramFetchPre, post: nvramFetchPost),
        // svm_rtas_nvram_store_hdlr: args[1] is the buffer, args[2] its length (copied in).
        .nvramStore: RTASBounceHandler(pre: { $0.bounceBuffer(argument: 1, length: 2, copyIn: true) }),
        .powerOff: RTASBounceHandler(),
        .startCPU: RTASBounceHandler(pre: startCPUPre),
        .nmiRegister: RTASBounceHandler(post: nmiRegisterPost),
    ]

    /// A service that fills an output buffer (`check-exception`, `event-scan`): an empty
    /// bounce buffer replaces it before the call; after a status-0 call its
    /// `args[length]` bytes go back to the guest's buffer.
    private static func outputBuffer(argument buffer: Int, length: Int) -> RTASBounceHandler {
        RTASBounceHandler(
            pre: { $0.bounceBuffer(argument: buffer, length: length, copyIn: false) },
            post: { call in
                guard call.ret(0) == 0, let (bounce, guest) = call.replacedBuffer(argument: buffer) else { return }
                call.bounceOut(bounce, to: guest, count: Int(call.arg(length)))
            })
    }

    /// `svm_rtas_ibm_cfg_conn_hdlr` (pre): the 4096-byte work area at args[0] is
    /// copied into a bounce buffer; an extra memory extent (args[1]) is not supported.
    private static func configureConnectorPre(_ call: inout RTASBounceCall) {
        if call.arg(1) != 0 { call.notes.append("ibm,configure-connector: extra memory extent not supported") }
        if let b = call.bounceIn(call.arg(0), count: RTASBounceState.bufferBytes) { call.setArg(0, b) }
    }

    /// `svm_rtas_ibm_cfg_conn_hdlr` (post): the work area goes back when the status is
    /// not an error, or is -2 (call again).
    private static func configureConnectorPost(_ call: inout RTASBounceCall) {
        let status = Int32(bitPattern: call.ret(0))
        guard status >= 0 || status == -2, let (bounce, guest) = call.replacedBuffer(argument: 0) else { return }
        call.bounceOut(bounce, to: guest, count: RTASBounceState.bufferBytes)
    }

    /// `svm_rtas_ibm_get_sys_param_hdlr` (pre): args[1] is the output buffer, args[2]
    /// its length.
    private static func getSystemParameterPre(_ call: inout RTASBounceCall) {
        call.bounceBuffer(argument: 1, length: 2, copyIn: false)
    }

    /// `svm_rtas_ibm_get_sys_param_hdlr` (post): after status 0 the parameter (its
    /// 2-byte length and that many bytes, at most args[2]) goes back
    /// (`_svm_rtas_get_sys_param_len`).
    private static func getSystemParameterPost(_ call: inout RTASBounceCall) {
        guard call.ret(0) == 0, let (bounce, guest) = call.replacedBuffer(argument: 1, minimumCount: 3),
            let length = try? call.memory.readBigEndian(
                .ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(bounce)), as: UInt16.self)
        else { return }
        call.bounceOut(bounce, to: guest, count: min(Int(length) + 2, Int(call.arg(2))))
    }

    /// `svm_rtas_ibm_set_sys_param_hdlr` (pre): the parameter at args[1] is copied in.
    /// The firmware copies "length" bytes; SVMKit copies the 2-byte length too, so the
    /// hypervisor sees the whole parameter.
    private static func setSystemParameterPre(_ call: inout RTASBounceCall) {
        let guest = GuestPhysicalAddress(rawValue: UInt64(call.arg(1)))
        let length = (try? call.memory.readBigEndian(.ultravisor, at: guest, as: UInt16.self)).map(Int.init) ?? 0
        if length + 2 <= RTASBounceState.bufferBytes, let b = call.bounceIn(call.arg(1), count: length + 2) {
            call.setArg(1, b)
        } else {
            call.notes.append("ibm,set-system-parameter: length \(length) over 4096")
        }
    }

    /// `svm_rtas_ibm_os_term_hdlr` (pre): the message at args[0] (a C string, at most
    /// 4095 bytes) is copied into a bounce buffer (`_svm_rtas_snprintf_bbuf`).
    private static func osTermPre(_ call: inout RTASBounceCall) {
        let message =
            (try? call.memory.readCString(
                .ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(call.arg(0))),
                maxLength: RTASBounceState.bufferBytes - 1)) ?? []
        if let buffer = call.allocate() {
            try? call.memory.write(.ultravisor, at: buffer, bytes: message + [0])
            call.setArg(0, UInt32(truncatingIfNeeded: buffer.rawValue))
        }
    }

    /// `svm_rtas_nvram_fetch_hdlr` (pre): args[1] is the output buffer, args[2] its length.
    private static func nvramFetchPre(_ call: inout RTASBounceCall) {
        call.bounceBuffer(argument: 1, length: 2, copyIn: false)
    }

    /// `svm_rtas_nvram_fetch_hdlr` (post): after status 0 the bytes fetched (the second
    /// return cell) go back.
    private static func nvramFetchPost(_ call: inout RTASBounceCall) {
        guard call.ret(0) == 0, let (bounce, guest) = call.replacedBuffer(argument: 1, minimumCount: 3) else { return }
        call.bounceOut(bounce, to: guest, count: Int(call.ret(1)))
    }

    /// `svm_rtas_start_cpu_hdlr` (pre, `rtas_start_cpu_begin`): for a CPU below
    /// `vcpus.max`, the start address and r3 are saved under a cookie that replaces
    /// args[2]; `rtas_start_cpu_end` finishes when the new CPU starts.
    private static func startCPUPre(_ call: inout RTASBounceCall) {
        let cpu = UInt64(call.arg(0))
        guard cpu < UInt64(call.bounce.maximumProcessors) else {
            call.notes.append("start-cpu: cpu \(cpu) ≥ vcpus.max \(call.bounce.maximumProcessors)")
            return
        }
        let request = StartCPURequest(
            lpid: call.lpid, cpu: cpu, startHere: UInt64(call.arg(1)), r3: UInt64(call.arg(2)))
        let cookie = call.ultravisor.registerStartCPU(request)
        call.setArg(2, UInt32(truncatingIfNeeded: cookie))
    }

    /// `svm_rtas_ibm_nmi_register` (post): after status 0 the SVM's machine-check
    /// handler is args[1].
    private static func nmiRegisterPost(_ call: inout RTASBounceCall) {
        guard call.ret(0) == 0 else { return }
        let handler = UInt64(call.arg(1))
        let lpid = call.lpid
        call.ultravisor.state.withLock { $0.svms[lpid]?.rtas?.machineCheckHandler = handler }
    }

    /// Saves a start-cpu request under a new cookie (`svm_generate_cookie`); the cookie.
    func registerStartCPU(_ request: StartCPURequest) -> UInt64 {
        state.withLock { s in
            let c = s.nextStartCPUCookie
            s.nextStartCPUCookie &+= 1
            s.startCPURequests[c] = request
            return c
        }
    }
}
