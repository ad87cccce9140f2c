import Locking

/// A ``TPMBackend`` that forwards each command to swtpm (the TPM 2.0 emulator QEMU uses,
/// on libtpms) over TCP, so the Ultravisor's lockbox unwrap runs against a key held only
/// by swtpm (reference/ultravisor-facts.md §2.7).
///
/// Wire format: `swtpm socket --server type=tcp` speaks the raw TPM 2.0 wire format, one
/// command buffer in and one response buffer out, with no framing (the MSSIM framing
/// belongs to `--server type=tcp` of the Microsoft simulator and to swtpm's `--flags
/// …` for other front ends, not to swtpm's socket interface; checked against swtpm
/// 0.7.1: a bare `TPM2_Startup` gets a bare 10-byte response). The response's length
/// comes from its header. The control channel (`--ctrl type=tcp`, by convention on port
/// + 1) takes swtpm's `CMD_*` requests; ``initialize()`` uses `CMD_INIT` then
/// `TPM2_Startup(TPM_SU_CLEAR)` for a swtpm started without
/// `--flags not-need-init,startup-clear`.
///
/// The connection is opened on the first command and kept; after any failure it is
/// closed, and the next command reconnects. ``close()`` (`H_TPM_COMM` operation 2)
/// closes it too. Connect and each command are bounded by ``timeoutMilliseconds``.
/// Failures are ``SwtpmFailure``s (``send(_:)``), seen through ``TPMBackend`` as
/// ``TPMTransportError``s with the same text: connection refused at host:port, a timeout,
/// a connection closed mid-response (swtpm died), or an answer that is not a TPM 2.0
/// response.
///
/// Thread-safe: one command at a time, under a `Mutex`.
public final class SwtpmBackend: TPMBackend, Sendable {
    /// The largest command sent and response accepted. swtpm's own buffer is 4096 bytes
    /// by default (`CMD_SET_BUFFERSIZE` can raise it), as are the Ultravisor's TSS and
    /// bounce page; this leaves room for a raised buffer.
    public static let maximumMessageSize = 65536
    /// The default bound on connecting and on each command, in milliseconds. An RSA-2048
    /// decryption takes a few ms; key generation at provisioning a few hundred.
    public static let defaultTimeoutMilliseconds = 10_000

    /// Where swtpm listens.
    public let address: SwtpmAddress
    /// The bound on connecting and on each command.
    public let timeoutMilliseconds: Int

    private struct State: ~Copyable {
        var socket: SwtpmSocket?
        var commandsSent = 0
        var connections = 0
    }
    private let state = Lock(State())

    /// A backend for the swtpm at `address`. Nothing is connected until the first command.
    public init(address: SwtpmAddress, timeoutMilliseconds: Int = SwtpmBackend.defaultTimeoutMilliseconds) {
        self.address = address
        self.timeoutMilliseconds = max(1, timeoutMilliseconds)
    }

    /// A backend for a `swtpm:HOST:PORT` spec (the form `svmkit boot --tpm` takes).
    /// - Throws: ``SwtpmAddressError`` naming the spec.
    public convenience init(spec: String, timeoutMilliseconds: Int = SwtpmBackend.defaultTimeoutMilliseconds) throws(SwtpmAddressError) {
        self.init(address: try SwtpmAddress.parse(spec), timeoutMilliseconds: timeoutMilliseconds)
    }

    deinit {
        state.withLock { $0.socket?.close() }
    }

    /// How many commands were sent (including ones that then failed).
    public var commandsSent: Int { state.withLock { $0.commandsSent } }
    /// How many connections were opened.
    public var connectionsOpened: Int { state.withLock { $0.connections } }

    /// Executes one command (see ``send(_:)``), mapping a failure to ``TPMTransportError``.
    public func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
        do { return try send(command) } catch { throw error.transportError }
    }

    /// Closes the connection (`H_TPM_COMM` operation 2). swtpm keeps its state; loaded
    /// sessions stay loaded, as on a real TPM.
    public func close() {
        state.withLock { s in
            s.socket?.close()
            s.socket = nil
        }
    }

    /// Sends one TPM 2.0 command and returns the whole response (header included). TPM
    /// error codes come back inside the response.
    /// - Throws: ``SwtpmFailure``: `.invalidCommand` (shorter than 10 bytes or over
    ///   ``maximumMessageSize``), `.connectionRefused` (swtpm absent), `.connectTimedOut`,
    ///   `.timedOut`, `.connectionClosed` (swtpm died mid-command), `.malformedResponse`
    ///   (not a TPM 2.0 response header, or a size out of range), `.socketError`.
    public func send(_ command: [UInt8]) throws(SwtpmFailure) -> [UInt8] {
        guard command.count >= 10, command.count <= Self.maximumMessageSize else {
            throw SwtpmFailure.invalidCommand("a \(command.count)-byte command (a TPM 2.0 command is 10 to \(Self.maximumMessageSize) bytes)")
        }
        let name = TPMCommandCode(rawValue: Self.u32(command, 6)).description
        return try state.withLock { (s: inout State) throws(SwtpmFailure) -> [UInt8] in
            s.commandsSent += 1
            do throws(SwtpmFailure) {
                let socket: SwtpmSocket
                if let open = s.socket {
                    socket = open
                } else {
                    socket = try SwtpmSocket.connect(host: address.host, port: address.port, timeoutMilliseconds: timeoutMilliseconds)
                    s.socket = socket
                    s.connections += 1
                }
                return try Self.exchange(command, name: name, over: socket, timeoutMilliseconds: timeoutMilliseconds)
            } catch {
                s.socket?.close()
                s.socket = nil
                throw error
            }
        }
    }

    /// One command and its response over an open connection.
    private static func exchange(_ command: [UInt8], name: String, over socket: SwtpmSocket, timeoutMilliseconds: Int) throws(SwtpmFailure) -> [UInt8] {
        let deadline = SwtpmSocket.Deadline(milliseconds: timeoutMilliseconds)
        try socket.sendAll(command, command: name, deadline: deadline)
        var response: [UInt8] = []
        response.reserveCapacity(64)
        try socket.receive(10, into: &response, command: name, expected: 0, deadline: deadline)
        let tag = UInt16(response[0]) << 8 | UInt16(response[1])
        let size = Int(u32(response, 2))
        guard tag == TPMStructureTag.noSessions.rawValue || tag == TPMStructureTag.sessions.rawValue else {
            throw SwtpmFailure.malformedResponse(
                endpoint: socket.endpoint, command: name,
                reason: "tag 0x\(String(tag, radix: 16)) (expected 0x8001 or 0x8002; a TPM 1.2 swtpm answers 0xc4)")
        }
        guard size >= 10, size <= maximumMessageSize else {
            throw SwtpmFailure.malformedResponse(endpoint: socket.endpoint, command: name, reason: "responseSize \(size) (expected 10 to \(maximumMessageSize))")
        }
        try socket.receive(size - 10, into: &response, command: name, expected: size, deadline: deadline)
        return response
    }

    /// Sends `CMD_INIT` on the control channel (swtpm's `PTM_INIT`; clears a TPM that
    /// was not initialized or was shut down), then `TPM2_Startup(TPM_SU_CLEAR)` on the
    /// server port. A TPM that is already started (`TPM_RC_INITIALIZE`) is fine. Not
    /// needed for a swtpm started with `--flags not-need-init,startup-clear`, as
    /// `Scripts/swtpm-provision` starts it.
    /// - Throws: ``SwtpmFailure`` for the control channel or the command.
    public func initialize() throws(SwtpmFailure) {
        close()
        try SwtpmControlChannel(host: address.host, port: address.controlPort, timeoutMilliseconds: timeoutMilliseconds).initialize()
        var p = TPMWriter()
        p.u16(0)  // TPM_SU_CLEAR
        let response = try send(TPMClient.command(TPMCommandCode(rawValue: 0x144), parameters: p.bytes))  // TPM2_Startup
        let rc = Self.u32(response, 6)
        guard rc == 0 || rc == TPMResponseCode.initialize.rawValue else {
            throw SwtpmFailure.controlFailed(endpoint: address.description, request: "TPM2_Startup(CLEAR)", result: rc)
        }
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        guard b.count >= at + 4 else { return 0 }
        return UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }
}
