/// A failure on the client side of the TPM (``TPMClient``, ``TPMLockboxUnwrapper``,
/// provisioning): the transport failed, the TPM answered an error code, the answer was
/// malformed or did not authenticate, or an input was unusable.
public enum TPMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The transport (e.g. `H_TPM_COMM`) failed.
    case transport(String)
    /// The TPM answered `code` to `command`.
    case response(command: TPMCommandCode, code: TPMResponseCode)
    /// The response to `command` is malformed.
    case malformedResponse(command: TPMCommandCode, reason: String)
    /// ReadPublic's Name is not the configured `wrapping-key-publicname`.
    case nameMismatch(handle: UInt32, expected: [UInt8], actual: [UInt8])
    /// The response HMAC does not verify (the answer did not come from a TPM holding the
    /// session and the key's auth value).
    case responseHMACMismatch(command: TPMCommandCode)
    /// A key could not be used (bad PEM, unsupported size).
    case invalidKey(String)
    /// The wrapping-key configuration is incomplete or malformed.
    case invalidConfiguration(String)
    /// An input is out of range (e.g. an `encrypted-symkey` over the TSS buffer).
    case invalidInput(String)

    /// A sentence naming the command, code or input.
    public var description: String {
        switch self {
        case .transport(let r): "TPM transport failed: \(r)"
        case .response(let c, let code): "\(c) failed: \(code)"
        case .malformedResponse(let c, let r): "\(c): malformed response: \(r)"
        case .nameMismatch(let h, let e, let a):
            "TPM2_ReadPublic(0x\(String(h, radix: 16))): Name \(Self.hex(a)) does not match wrapping-key-publicname \(Self.hex(e))"
        case .responseHMACMismatch(let c): "\(c): the response HMAC does not verify"
        case .invalidKey(let r): "invalid TPM key: \(r)"
        case .invalidConfiguration(let r): "invalid wrapping-key configuration: \(r)"
        case .invalidInput(let r): r
        }
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
