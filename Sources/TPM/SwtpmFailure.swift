/// Why a command to swtpm got no usable answer: the typed form of the
/// ``TPMTransportError`` that ``SwtpmBackend/execute(_:)`` throws (its `reason` is this
/// error's description). The hypervisor turns either into `H_RESOURCE`.
public enum SwtpmFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// Nothing listens at the address (`ECONNREFUSED`): swtpm is not running.
    case connectionRefused(endpoint: String)
    /// The connection was not established within the timeout.
    case connectTimedOut(endpoint: String, milliseconds: Int)
    /// No (complete) answer within the timeout.
    case timedOut(endpoint: String, command: String, milliseconds: Int)
    /// The connection closed, or was reset, before the whole response arrived (swtpm
    /// died mid-command): `received` of `expected` bytes (`expected` 0 when the header
    /// itself was short).
    case connectionClosed(endpoint: String, command: String, received: Int, expected: Int)
    /// The answer is not a TPM 2.0 response.
    case malformedResponse(endpoint: String, command: String, reason: String)
    /// Another socket error (`errno` named).
    case socketError(endpoint: String, operation: String, errno: Int32)
    /// The command cannot be sent (shorter than a header, or over the size limit).
    case invalidCommand(String)
    /// The control channel refused a request (`ptm_res` ≠ 0).
    case controlFailed(endpoint: String, request: String, result: UInt32)

    /// A sentence naming host:port and the command.
    public var description: String {
        switch self {
        case .connectionRefused(let e): "swtpm at \(e): connection refused (is swtpm running?)"
        case .connectTimedOut(let e, let ms): "swtpm at \(e): no connection within \(ms) ms"
        case .timedOut(let e, let c, let ms): "swtpm at \(e): no complete response to \(c) within \(ms) ms"
        case .connectionClosed(let e, let c, let got, let want):
            want == 0
                ? "swtpm at \(e): connection closed after \(got) of 10 header bytes of the response to \(c) (did swtpm exit?)"
                : "swtpm at \(e): connection closed after \(got) of \(want) response bytes to \(c) (did swtpm exit?)"
        case .malformedResponse(let e, let c, let r): "swtpm at \(e): the answer to \(c) is not a TPM 2.0 response: \(r)"
        case .socketError(let e, let op, let err): "swtpm at \(e): \(op) failed: \(SwtpmSocket.errorName(err))"
        case .invalidCommand(let r): "swtpm: \(r)"
        case .controlFailed(let e, let r, let res): "swtpm control channel at \(e): \(r) answered result 0x\(String(res, radix: 16))"
        }
    }

    /// The same failure as the ``TPMTransportError`` a ``TPMBackend`` throws.
    public var transportError: TPMTransportError { TPMTransportError(description) }
}
