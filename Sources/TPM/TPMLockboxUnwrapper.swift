/// Unwraps a lockbox's `encrypted-symkey` with the TPM's wrapping key, exactly as the
/// Ultravisor does.
///
/// Models `UV_TSS_Decrypt()` in `open-power/ultravisor uv/tssuv.c` (reference/
/// ultravisor-facts.md §2.7):
///
/// 1. TPM2_ReadPublic(handle); the Name must equal `wrapping-key-publicname` over the
///    property's length (`memcmp(name, publicname, len)`: a shorter property compares
///    only a prefix; a longer one cannot match here);
/// 2. TPM2_StartAuthSession: policy, tpmKey = bind = TPM_RH_NULL, AES-128-CFB, SHA-256;
/// 3. TPM2_PolicyCommandCode(TPM_CC_RSA_Decrypt);
/// 4. TPM2_PolicyAuthValue;
/// 5. TPM2_PolicyOR{policy-a, policy-b};
/// 6. TPM2_RSA_Decrypt(handle, encrypted-symkey, TPM_ALG_NULL, empty label) with the
///    password as auth value and session attributes ENCRYPT | CONTINUESESSION (so the
///    master key comes back AES-128-CFB encrypted and is decrypted here);
/// 7. TPM2_FlushContext(session), also after a failure in steps 3–6 (the first error
///    is the one reported).
///
/// The plaintext is the `TPM2B` message without its size. The TSS copies the cipher
/// text into a 512-byte buffer (`MAX_RSA_KEY_BYTES`); a longer `encrypted-symkey` is
/// refused here, where the firmware would overrun.
public struct TPMLockboxUnwrapper: Sendable {
    /// The TSS's RSA buffer size.
    public static let maximumCipherTextSize = 512

    /// The wrapping-key parameters.
    public var configuration: TPMWrappingKeyConfiguration

    /// An unwrapper for a configuration.
    public init(configuration: TPMWrappingKeyConfiguration) { self.configuration = configuration }

    /// Runs the command sequence over `transport` and returns the master key.
    /// - Throws: ``TPMError``: the first failing command with its response code, a Name
    ///   mismatch, a transport failure, or an oversized input.
    public func unwrap(
        _ encryptedSymKey: [UInt8], transport: @escaping TPMClient.Transport,
        randomBytes: @escaping (Int) -> [UInt8] = TPMClient.systemRandomBytes
    ) throws(TPMError) -> [UInt8] {
        guard encryptedSymKey.count <= Self.maximumCipherTextSize else {
            throw TPMError.invalidInput("encrypted-symkey is \(encryptedSymKey.count) bytes, over the TSS's \(Self.maximumCipherTextSize)-byte RSA buffer")
        }
        let client = TPMClient(transport: transport, randomBytes: randomBytes)
        let c = configuration
        let pub = try client.readPublic(c.handle)
        let expected = c.publicName
        guard expected.count <= pub.name.count, Array(pub.name.prefix(expected.count)) == expected else {
            throw TPMError.nameMismatch(handle: c.handle, expected: expected, actual: pub.name)
        }
        var session = try client.startAuthSession(type: .policy, aes128CFB: true)
        let result: Result<[UInt8], TPMError>
        do {
            try client.policyCommandCode(session, .rsaDecrypt)
            try client.policyAuthValue(&session)
            try client.policyOR(session, [c.policyA, c.policyB])
            result = .success(
                try client.rsaDecrypt(
                    keyHandle: c.handle, keyName: pub.name, cipherText: encryptedSymKey, session: &session, authValue: c.authValue,
                    attributes: [.encrypt, .continueSession], scheme: .null, label: []))
        } catch {
            result = .failure(error)
        }
        let flushed: Result<Void, TPMError>
        do { try client.flushContext(session.handle); flushed = .success(()) } catch { flushed = .failure(error) }
        let key = try result.get()
        try flushed.get()
        return key
    }
}
