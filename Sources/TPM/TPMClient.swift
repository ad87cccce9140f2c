/// Sends TPM 2.0 commands over a transport and checks the answers: the commands the
/// Ultravisor's TSS issues for the lockbox unwrap (reference/ultravisor-facts.md §2.7),
/// built and parsed in the TPM wire format, with session HMACs and AES-128-CFB
/// parameter encryption done as the IBM TSS does them.
///
/// The transport takes one command buffer and returns one response buffer; in the
/// Ultravisor it copies the command into the TPM bounce page and makes `H_TPM_COMM`.
public struct TPMClient {
    /// One command in, one response out.
    public typealias Transport = ([UInt8]) throws -> [UInt8]

    private let transport: Transport
    private let randomBytes: (Int) -> [UInt8]

    /// A client over `transport`.
    /// - Parameters:
    ///   - transport: sends one command's bytes and returns the response's.
    ///   - randomBytes: the source of caller nonces (the system generator by default).
    public init(transport: @escaping Transport, randomBytes: @escaping (Int) -> [UInt8] = TPMClient.systemRandomBytes) {
        self.transport = transport
        self.randomBytes = randomBytes
    }

    /// Bytes from the system generator.
    public static func systemRandomBytes(_ count: Int) -> [UInt8] {
        var source = TPMRandomSource.system
        return source.bytes(count)
    }

    /// Builds a command: header, handles, the authorization area (when given), parameters.
    public static func command(_ code: TPMCommandCode, handles: [UInt32] = [], authorization: [UInt8]? = nil, parameters: [UInt8] = []) -> [UInt8] {
        var w = TPMWriter()
        w.u16((authorization == nil ? TPMStructureTag.noSessions : .sessions).rawValue)
        w.u32(0)
        w.u32(code.rawValue)
        for h in handles { w.u32(h) }
        if let authorization {
            w.u32(UInt32(authorization.count))
            w.raw(authorization)
        }
        w.raw(parameters)
        var bytes = w.bytes
        let n = UInt32(bytes.count)
        bytes.replaceSubrange(2..<6, with: [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])
        return bytes
    }

    /// Sends a command and checks the response header; returns a reader after the header.
    /// - Throws: `.transport`, `.malformedResponse`, or `.response` with the TPM's code.
    public func send(_ command: [UInt8], _ code: TPMCommandCode) throws(TPMError) -> TPMReader {
        let response: [UInt8]
        do { response = try transport(command) } catch { throw TPMError.transport("\(code): \(error)") }
        var r = TPMReader(response)
        do {
            let tag = try r.u16("tag")
            let size = try r.u32("responseSize")
            let rc = TPMResponseCode(rawValue: try r.u32("responseCode"))
            guard Int(size) == response.count else {
                throw TPMError.malformedResponse(command: code, reason: "header size \(size), \(response.count) bytes received")
            }
            guard rc == .success else { throw TPMError.response(command: code, code: rc) }
            guard tag == TPMStructureTag.noSessions.rawValue || tag == TPMStructureTag.sessions.rawValue else {
                throw TPMError.malformedResponse(command: code, reason: "tag 0x\(String(tag, radix: 16))")
            }
        } catch let e as TPMError {
            throw e
        } catch {
            throw TPMError.malformedResponse(command: code, reason: "\(error)")
        }
        return r
    }

    /// Parses a response body, mapping a short read to `.malformedResponse`.
    private func parse<T>(_ code: TPMCommandCode, _ body: () throws(TPMUnmarshalError) -> T) throws(TPMError) -> T {
        do { return try body() } catch { throw TPMError.malformedResponse(command: code, reason: error.description) }
    }

    /// TPM2_ReadPublic(handle).
    public func readPublic(_ handle: UInt32) throws(TPMError) -> TPMReadPublicResult {
        var r = try send(Self.command(.readPublic, handles: [handle]), .readPublic)
        return try parse(.readPublic) { () throws(TPMUnmarshalError) in
            TPMReadPublicResult(publicArea: try r.tpm2b("outPublic"), name: try r.tpm2b("name"), qualifiedName: try r.tpm2b("qualifiedName"))
        }
    }

    /// TPM2_StartAuthSession with tpmKey = bind = TPM_RH_NULL (unsalted, unbound), a
    /// 32-byte caller nonce, and AES-128-CFB (or no) parameter encryption, SHA-256.
    public func startAuthSession(type: TPMSessionType = .policy, aes128CFB: Bool = true) throws(TPMError) -> TPMSession {
        var p = TPMWriter()
        p.tpm2b(randomBytes(32))
        p.tpm2b([])
        p.u8(type.rawValue)
        if aes128CFB {
            p.u16(TPMAlgorithm.aes.rawValue)
            p.u16(128)
            p.u16(TPMAlgorithm.cfb.rawValue)
        } else {
            p.u16(TPMAlgorithm.null.rawValue)
        }
        p.u16(TPMAlgorithm.sha256.rawValue)
        var r = try send(Self.command(.startAuthSession, handles: [TPMHandle.null, TPMHandle.null], parameters: p.bytes), .startAuthSession)
        let (handle, nonce) = try parse(.startAuthSession) { () throws(TPMUnmarshalError) in (try r.u32("sessionHandle"), try r.tpm2b("nonceTPM")) }
        return TPMSession(handle: handle, type: type, nonceTPM: nonce, parameterEncryption: aes128CFB)
    }

    /// TPM2_PolicyCommandCode(session, code).
    public func policyCommandCode(_ session: TPMSession, _ code: TPMCommandCode) throws(TPMError) {
        var p = TPMWriter()
        p.u32(code.rawValue)
        _ = try send(Self.command(.policyCommandCode, handles: [session.handle], parameters: p.bytes), .policyCommandCode)
    }

    /// TPM2_PolicyAuthValue(session); from now on the auth value keys the session's HMAC.
    public func policyAuthValue(_ session: inout TPMSession) throws(TPMError) {
        _ = try send(Self.command(.policyAuthValue, handles: [session.handle]), .policyAuthValue)
        session.isAuthValueNeeded = true
    }

    /// TPM2_PolicyOR(session, digests).
    public func policyOR(_ session: TPMSession, _ digests: [[UInt8]]) throws(TPMError) {
        var p = TPMWriter()
        p.u32(UInt32(digests.count))
        for d in digests { p.tpm2b(d) }
        _ = try send(Self.command(.policyOR, handles: [session.handle], parameters: p.bytes), .policyOR)
    }

    /// TPM2_PolicyGetDigest(session).
    public func policyGetDigest(_ session: TPMSession) throws(TPMError) -> [UInt8] {
        var r = try send(Self.command(.policyGetDigest, handles: [session.handle]), .policyGetDigest)
        return try parse(.policyGetDigest) { () throws(TPMUnmarshalError) in try r.tpm2b("policyDigest") }
    }

    /// TPM2_FlushContext(handle).
    public func flushContext(_ handle: UInt32) throws(TPMError) {
        var p = TPMWriter()
        p.u32(handle)
        _ = try send(Self.command(.flushContext, parameters: p.bytes), .flushContext)
    }

    /// TPM2_GetRandom(count).
    public func getRandom(_ count: UInt16) throws(TPMError) -> [UInt8] {
        var p = TPMWriter()
        p.u16(count)
        var r = try send(Self.command(.getRandom, parameters: p.bytes), .getRandom)
        return try parse(.getRandom) { () throws(TPMUnmarshalError) in try r.tpm2b("randomBytes") }
    }

    /// TPM2_RSA_Decrypt(keyHandle, cipherText, inScheme, label), authorized by `session`
    /// with `authValue` (HMAC over cpHash and the nonces, keyed with the auth value after
    /// PolicyAuthValue). With `.encrypt`, the TPM encrypts the returned message with
    /// AES-128-CFB and this decrypts it; with `.decrypt`, the cipher text is sent
    /// encrypted. The response HMAC is verified.
    /// - Parameters:
    ///   - keyHandle: the loaded key's handle.
    ///   - keyName: the key's Name (from ReadPublic), which enters cpHash.
    ///   - cipherText: the RSA-OAEP cipher text.
    ///   - session: the policy session; its nonces advance.
    ///   - authValue: the key's auth value.
    ///   - attributes: the session attributes (parameter encryption, continue).
    ///   - scheme: `.null` to use the key's own scheme, as the Ultravisor does.
    ///   - label: the OAEP label.
    /// - Returns: the message (the `TPM2B` buffer without its size).
    public func rsaDecrypt(
        keyHandle: UInt32, keyName: [UInt8], cipherText: [UInt8], session: inout TPMSession, authValue: [UInt8],
        attributes: TPMSessionAttributes = [.encrypt, .continueSession], scheme: TPMAlgorithm = .null, label: [UInt8] = []
    ) throws(TPMError) -> [UInt8] {
        let code = TPMCommandCode.rsaDecrypt
        let nonceCaller = randomBytes(32)
        let sessionValue = session.isAuthValueNeeded ? TPMSessionCrypto.trimmed(authValue) : []
        var first = cipherText
        if attributes.contains(.decrypt) {
            first = try TPMSessionCrypto.cfb(cipherText, sessionValue: sessionValue, nonceNewer: nonceCaller, nonceOlder: session.nonceTPM, encrypt: true)
        }
        var p = TPMWriter()
        p.tpm2b(first)
        p.u16(scheme.rawValue)
        if scheme == .oaep { p.u16(TPMAlgorithm.sha256.rawValue) }
        p.tpm2b(label)
        let cpHash = TPMSessionCrypto.cpHash(code, names: [keyName], parameters: p.bytes)
        let hmac = TPMSessionCrypto.sessionHMAC(
            sessionValue: sessionValue, pHash: cpHash, nonceNewer: nonceCaller, nonceOlder: session.nonceTPM, attributes: attributes)
        var a = TPMWriter()
        a.u32(session.handle)
        a.tpm2b(nonceCaller)
        a.u8(attributes.rawValue)
        a.tpm2b(hmac)
        var r = try send(Self.command(code, handles: [keyHandle], authorization: a.bytes, parameters: p.bytes), code)
        let (params, nonceTPM, echoed, responseHMAC) = try parse(code) { () throws(TPMUnmarshalError) in
            let size = try r.u32("parameterSize")
            let params = try r.raw(Int(size), "parameters")
            return (params, try r.tpm2b("nonceTPM"), try r.u8("sessionAttributes"), try r.tpm2b("hmac"))
        }
        let rpHash = TPMSessionCrypto.rpHash(code, parameters: params)
        let expected = TPMSessionCrypto.sessionHMAC(
            sessionValue: sessionValue, pHash: rpHash, nonceNewer: nonceTPM, nonceOlder: nonceCaller,
            attributes: TPMSessionAttributes(rawValue: echoed))
        guard responseHMAC == expected else { throw TPMError.responseHMACMismatch(command: code) }
        var pr = TPMReader(params)
        var message = try parse(code) { () throws(TPMUnmarshalError) in try pr.tpm2b("outData") }
        if attributes.contains(.encrypt) {
            message = try TPMSessionCrypto.cfb(message, sessionValue: sessionValue, nonceNewer: nonceTPM, nonceOlder: nonceCaller, encrypt: false)
        }
        session.nonceTPM = nonceTPM
        if attributes.contains(.continueSession) { session.isAuthValueNeeded = false }
        return message
    }
}
