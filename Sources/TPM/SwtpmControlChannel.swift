/// swtpm's control channel (`swtpm socket --ctrl type=tcp,port=…`): each request is a
/// 4-byte big-endian command code (`CMD_*`, numbered as swtpm's `PTM_*` ioctls in
/// `swtpm/tpm_ioctl.h`) and its payload; each connection carries one request, and the
/// answer starts with a 4-byte big-endian `ptm_res` (0 = success).
///
/// Checked against swtpm 0.7.1: `CMD_INIT` with `init_flags` 0 answers `00000000`; before
/// it, a swtpm started without `not-need-init` answers every TPM command with
/// `TPM_RC_FAILURE`.
struct SwtpmControlChannel {
    /// `CMD_GET_CAPABILITY`.
    static let getCapability: UInt32 = 1
    /// `CMD_INIT`: (re)initialize the TPM; payload `init_flags` (u32).
    static let initCommand: UInt32 = 2
    /// `CMD_SHUTDOWN`: shut the TPM down; swtpm exits.
    static let shutdown: UInt32 = 3

    let host: String
    let port: UInt16
    let timeoutMilliseconds: Int

    var endpoint: String { "\(host):\(port)" }

    /// Sends `CMD_INIT` (flags 0).
    func initialize() throws(SwtpmFailure) {
        let result = try request(Self.initCommand, name: "CMD_INIT", payload: [0, 0, 0, 0])
        guard result == 0 else { throw SwtpmFailure.controlFailed(endpoint: endpoint, request: "CMD_INIT", result: result) }
    }

    /// Sends `CMD_SHUTDOWN`; swtpm saves its state and exits.
    func shutdown() throws(SwtpmFailure) {
        let result = try request(Self.shutdown, name: "CMD_SHUTDOWN", payload: [])
        guard result == 0 else { throw SwtpmFailure.controlFailed(endpoint: endpoint, request: "CMD_SHUTDOWN", result: result) }
    }

    /// One request on a fresh connection; returns `ptm_res`.
    private func request(_ code: UInt32, name: String, payload: [UInt8]) throws(SwtpmFailure) -> UInt32 {
        let socket = try SwtpmSocket.connect(host: host, port: port, timeoutMilliseconds: timeoutMilliseconds)
        defer { socket.close() }
        let deadline = SwtpmSocket.Deadline(milliseconds: timeoutMilliseconds)
        let bytes = [UInt8(code >> 24), UInt8(code >> 16 & 0xFF), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)] + payload
        try socket.sendAll(bytes, command: name, deadline: deadline)
        var answer: [UInt8] = []
        try socket.receive(4, into: &answer, command: name, expected: 4, deadline: deadline)
        return SwtpmBackend.u32(answer, 0)
    }
}

extension SwtpmBackend {
    /// Asks swtpm to shut down over its control channel (`CMD_SHUTDOWN`): it saves its
    /// state and exits.
    /// - Throws: ``SwtpmFailure`` (e.g. `.connectionRefused` when it is not running).
    public func shutDown() throws(SwtpmFailure) {
        close()
        try SwtpmControlChannel(host: address.host, port: address.controlPort, timeoutMilliseconds: timeoutMilliseconds).shutdown()
    }
}
