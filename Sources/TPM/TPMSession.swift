/// The client's view of a TPM session (what the IBM TSS keeps per session).
public struct TPMSession: Sendable, Hashable {
    /// The session handle (0x02xxxxxx HMAC, 0x03xxxxxx policy or trial).
    public var handle: UInt32
    /// The kind of session.
    public var type: TPMSessionType
    /// The TPM's latest nonce.
    public var nonceTPM: [UInt8]
    /// Whether the session was started with AES-128-CFB, so it can encrypt parameters.
    public var parameterEncryption: Bool
    /// Whether PolicyAuthValue ran since the last authorization: the auth value then
    /// keys the HMAC and the parameter encryption.
    public var isAuthValueNeeded: Bool

    /// Makes a session record.
    public init(handle: UInt32, type: TPMSessionType, nonceTPM: [UInt8], parameterEncryption: Bool, isAuthValueNeeded: Bool = false) {
        self.handle = handle
        self.type = type
        self.nonceTPM = nonceTPM
        self.parameterEncryption = parameterEncryption
        self.isAuthValueNeeded = isAuthValueNeeded
    }
}

/// What TPM2_ReadPublic returns.
public struct TPMReadPublicResult: Sendable, Hashable {
    /// The marshalled `TPMT_PUBLIC`.
    public var publicArea: [UInt8]
    /// The Name.
    public var name: [UInt8]
    /// The qualified Name.
    public var qualifiedName: [UInt8]
}
