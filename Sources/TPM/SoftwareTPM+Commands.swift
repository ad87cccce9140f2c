import Crypto
import Foundation
import _CryptoExtras

extension SoftwareTPM {
    /// A parsed command authorization (one entry of the authorization area).
    struct CommandAuth {
        var handle: UInt32
        var nonce: [UInt8]
        var attributes: TPMSessionAttributes
        var hmac: [UInt8]
    }

    /// A failure: the response code to answer.
    struct Failure: Error {
        var code: TPMResponseCode
        init(_ code: TPMResponseCode) { self.code = code }
    }

    /// A 10-byte error response.
    static func errorResponse(_ code: TPMResponseCode) -> [UInt8] {
        var w = TPMWriter()
        w.u16(TPMStructureTag.noSessions.rawValue)
        w.u32(10)
        w.u32(code.rawValue)
        return w.bytes
    }

    /// A success response: header, handles, then (with sessions) parameterSize, the
    /// parameters and the authorization area.
    static func response(handles: [UInt32] = [], parameters: [UInt8] = [], auth: [UInt8]? = nil) -> [UInt8] {
        var w = TPMWriter()
        w.u16((auth == nil ? TPMStructureTag.noSessions : .sessions).rawValue)
        w.u32(0)
        w.u32(TPMResponseCode.success.rawValue)
        for h in handles { w.u32(h) }
        if let auth {
            w.u32(UInt32(parameters.count))
            w.raw(parameters)
            w.raw(auth)
        } else {
            w.raw(parameters)
        }
        var bytes = w.bytes
        let n = UInt32(bytes.count)
        bytes.replaceSubrange(2..<6, with: [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])
        return bytes
    }

    /// Parses the header, handles and authorization area, then runs the command.
    func process(_ command: [UInt8], _ s: inout State) -> [UInt8] {
        do {
            return try dispatch(command, &s)
        } catch {
            return Self.errorResponse(error.code)
        }
    }

    private func dispatch(_ command: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        guard command.count >= 10, command.count <= Self.maximumCommandSize else { throw Failure(.commandSize) }
        var r = ParameterReader(command)
        let tag = TPMStructureTag(rawValue: try r.u16(.commandSize))
        let size = try r.u32(.commandSize)
        let code = TPMCommandCode(rawValue: try r.u32(.commandSize))
        guard Int(size) == command.count else { throw Failure(.commandSize) }
        guard tag == .noSessions || tag == .sessions else { throw Failure(.badTag) }
        guard TPMCommandCode.implemented.contains(code) else { throw Failure(.commandCode) }

        let handleCount: Int
        switch code {
        case .startAuthSession: handleCount = 2
        case .flushContext, .getRandom: handleCount = 0
        default: handleCount = 1
        }
        let needsAuth = code == .rsaDecrypt
        var handles: [UInt32] = []
        for i in 0..<handleCount { handles.append(try r.u32(.insufficient.handle(UInt32(i + 1)))) }

        var auths: [CommandAuth] = []
        if tag == .sessions {
            let authSize = Int(try r.u32(.authSize))
            guard authSize >= 9, authSize <= r.remaining else { throw Failure(.size) }
            let end = r.offset + authSize
            while r.offset < end {
                auths.append(
                    CommandAuth(
                        handle: try r.u32(.authSize), nonce: try r.tpm2b(.authSize),
                        attributes: TPMSessionAttributes(rawValue: try r.u8(.authSize)), hmac: try r.tpm2b(.authSize)))
            }
            guard r.offset == end, auths.count <= 3 else { throw Failure(.authSize) }
            // Every session handle must be a session (or TPM_RS_PW in the authorization
            // position) with an index below MAX_ACTIVE_SESSIONS, and loaded.
            for (i, a) in auths.enumerated() {
                let n = UInt32(i + 1)
                if a.handle == TPMHandle.passwordSession, needsAuth, i == 0 { continue }
                guard [0x02, 0x03].contains(TPMHandle.type(of: a.handle)), a.handle & 0xFF_FFFF < Self.sessionSlots else {
                    throw Failure(.value.session(n))
                }
                guard s.sessions[a.handle] != nil else { throw Failure(TPMResponseCode(rawValue: TPMResponseCode.referenceS0.rawValue + UInt32(i))) }
            }
            // Sessions past the authorizations would be audit or encryption sessions: not supported.
            let authCount = needsAuth ? 1 : 0
            if auths.count > authCount {
                guard !auths[authCount].attributes.intersection([.audit, .decrypt, .encrypt]).isEmpty else {
                    throw Failure(.attributes.session(UInt32(authCount + 1)))
                }
                throw Failure(.authContext)
            }
        } else if needsAuth {
            throw Failure(.authMissing)
        }
        let parameters = Array(command[r.offset...])

        switch code {
        case .readPublic: return try readPublic(handles[0], parameters)
        case .startAuthSession: return try startAuthSession(handles, parameters, &s)
        case .policyCommandCode: return try policyCommandCode(handles[0], parameters, &s)
        case .policyAuthValue: return try policyAuthValue(handles[0], parameters, &s)
        case .policyOR: return try policyOR(handles[0], parameters, &s)
        case .policyGetDigest: return try policyGetDigest(handles[0], parameters, &s)
        case .rsaDecrypt: return try rsaDecrypt(handles[0], auths[0], parameters, &s)
        case .flushContext: return try flushContext(parameters, &s)
        case .getRandom: return try getRandom(parameters, &s)
        default: throw Failure(.commandCode)
        }
    }

    /// Reads a command, answering the given response code when it ends early.
    struct ParameterReader {
        var r: TPMReader
        init(_ bytes: [UInt8]) { r = TPMReader(bytes) }
        var remaining: Int { r.remaining }
        var offset: Int { r.offset }
        mutating func u8(_ code: TPMResponseCode) throws(Failure) -> UInt8 {
            do { return try r.u8("") } catch { throw Failure(code) }
        }
        mutating func u16(_ code: TPMResponseCode) throws(Failure) -> UInt16 {
            do { return try r.u16("") } catch { throw Failure(code) }
        }
        mutating func u32(_ code: TPMResponseCode) throws(Failure) -> UInt32 {
            do { return try r.u32("") } catch { throw Failure(code) }
        }
        mutating func tpm2b(_ code: TPMResponseCode) throws(Failure) -> [UInt8] {
            do { return try r.tpm2b("") } catch { throw Failure(code) }
        }
    }

    /// The policy session behind `handle` (TPM_RC_HANDLE for a non-policy handle,
    /// TPM_RC_REFERENCE_H0 for one not loaded).
    private func policySession(_ handle: UInt32, _ s: State) throws(Failure) -> Session {
        // TPMI_SH_POLICY: a policy-session handle with an index below MAX_ACTIVE_SESSIONS.
        guard TPMHandle.type(of: handle) == TPMHandle.type(of: TPMHandle.firstPolicySession),
            handle & 0xFF_FFFF < Self.sessionSlots
        else { throw Failure(.value.handle(1)) }
        guard let session = s.sessions[handle] else { throw Failure(.referenceH0) }
        return session
    }

    /// The check of an object handle (TPMI_DH_OBJECT) that must name the key:
    /// `TPM_RC_HANDLE` for a persistent handle that is not there, `TPM_RC_REFERENCE_H0`
    /// for an empty transient slot, `TPM_RC_VALUE` for a transient index past the object
    /// slots or a handle of another type.
    private func checkKeyHandle(_ handle: UInt32) throws(Failure) {
        guard handle != keyHandle else { return }
        switch TPMHandle.type(of: handle) {
        case 0x81: throw Failure(.handle.handle(1))
        case 0x80: throw Failure(handle & 0xFF_FFFF < Self.objectSlots ? .referenceH0 : .value.handle(1))
        default: throw Failure(.value.handle(1))
        }
    }

    private func noMoreParameters(_ r: ParameterReader) throws(Failure) {
        guard r.remaining == 0 else { throw Failure(.size) }
    }

    // MARK: Commands

    /// TPM2_ReadPublic: the public area, Name and qualified Name of the key.
    func readPublic(_ handle: UInt32, _ parameters: [UInt8]) throws(Failure) -> [UInt8] {
        try checkKeyHandle(handle)
        guard parameters.isEmpty else { throw Failure(.size) }
        var w = TPMWriter()
        w.tpm2b(publicArea.marshalled)
        w.tpm2b(publicArea.name)
        w.tpm2b(publicArea.qualifiedName)
        return Self.response(parameters: w.bytes)
    }

    /// TPM2_StartAuthSession: an unbound, unsalted session.
    func startAuthSession(_ handles: [UInt32], _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        guard handles[0] == TPMHandle.null else { throw Failure(.handle.handle(1)) }
        guard handles[1] == TPMHandle.null else { throw Failure(.handle.handle(2)) }
        var r = ParameterReader(parameters)
        let nonceCaller = try r.tpm2b(.insufficient.parameter(1))
        let salt = try r.tpm2b(.insufficient.parameter(2))
        let typeByte = try r.u8(.insufficient.parameter(3))
        let symAlg = TPMAlgorithm(rawValue: try r.u16(.insufficient.parameter(4)))
        var aesCFB = false
        if symAlg != .null {
            let bits = try r.u16(.insufficient.parameter(4))
            let mode = TPMAlgorithm(rawValue: try r.u16(.insufficient.parameter(4)))
            guard symAlg == .aes, bits == 128, mode == .cfb else { throw Failure(.symmetric.parameter(4)) }
            aesCFB = true
        }
        let hash = TPMAlgorithm(rawValue: try r.u16(.insufficient.parameter(5)))
        try noMoreParameters(r)
        // Unmarshalling checks first (sessionType, authHash), then the action's.
        guard let type = TPMSessionType(rawValue: typeByte) else { throw Failure(.value.parameter(3)) }
        guard hash == .sha256 else { throw Failure(.hash.parameter(5)) }
        guard (16...32).contains(nonceCaller.count) else { throw Failure(.size.parameter(1)) }
        guard salt.isEmpty else { throw Failure(.value.parameter(2)) }
        guard s.sessions.count < Self.maximumSessions else { throw Failure(.sessionMemory) }
        // The handle's index is the lowest free session slot, shared by HMAC and policy sessions.
        let base = type == .hmac ? TPMHandle.firstHMACSession : TPMHandle.firstPolicySession
        let used = Set(s.sessions.keys.map { $0 & 0xFF_FFFF })
        guard let slot = (0..<Self.sessionSlots).first(where: { !used.contains($0) }) else { throw Failure(.sessionMemory) }
        let handle = base + slot
        let nonceTPM = s.random.bytes(32)
        s.sessions[handle] = Session(type: type, nonceTPM: nonceTPM, parameterEncryption: aesCFB)
        var w = TPMWriter()
        w.tpm2b(nonceTPM)
        return Self.response(handles: [handle], parameters: w.bytes)
    }

    /// TPM2_PolicyCommandCode.
    func policyCommandCode(_ handle: UInt32, _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        var session = try policySession(handle, s)
        var r = ParameterReader(parameters)
        let code = TPMCommandCode(rawValue: try r.u32(.insufficient.parameter(1)))
        try noMoreParameters(r)
        if let bound = session.commandCode, bound != code { throw Failure(.value.parameter(1)) }
        guard TPMCommandCode.implemented.contains(code) || code == .objectChangeAuth else { throw Failure(.policyCC.parameter(1)) }
        session.policyDigest = TPMPolicy.commandCode(session.policyDigest, code)
        session.commandCode = code
        s.sessions[handle] = session
        return Self.response()
    }

    /// TPM2_PolicyAuthValue.
    func policyAuthValue(_ handle: UInt32, _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        var session = try policySession(handle, s)
        guard parameters.isEmpty else { throw Failure(.size) }
        session.policyDigest = TPMPolicy.authValue(session.policyDigest)
        session.isAuthValueNeeded = true
        s.sessions[handle] = session
        return Self.response()
    }

    /// TPM2_PolicyOR: the session's digest must be one of the list (unless trial).
    func policyOR(_ handle: UInt32, _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        var session = try policySession(handle, s)
        var r = ParameterReader(parameters)
        let count = try r.u32(.insufficient.parameter(1))
        guard count <= 8 else { throw Failure(.size.parameter(1)) }
        var digests: [[UInt8]] = []
        for _ in 0..<count { digests.append(try r.tpm2b(.insufficient.parameter(1))) }
        try noMoreParameters(r)
        guard count >= 2 else { throw Failure(.size.parameter(1)) }
        if session.type != .trial {
            guard digests.contains(session.policyDigest) else { throw Failure(.value.parameter(1)) }
        }
        session.policyDigest = TPMPolicy.or(digests)
        s.sessions[handle] = session
        return Self.response()
    }

    /// TPM2_PolicyGetDigest.
    func policyGetDigest(_ handle: UInt32, _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        let session = try policySession(handle, s)
        guard parameters.isEmpty else { throw Failure(.size) }
        var w = TPMWriter()
        w.tpm2b(session.policyDigest)
        return Self.response(parameters: w.bytes)
    }

    /// TPM2_FlushContext.
    func flushContext(_ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        var r = ParameterReader(parameters)
        let handle = try r.u32(.insufficient.parameter(1))
        try noMoreParameters(r)
        // TPMI_DH_CONTEXT: a session handle below MAX_ACTIVE_SESSIONS or a transient
        // object index below the object slots; anything else is TPM_RC_VALUE.
        switch TPMHandle.type(of: handle) {
        case 0x02, 0x03:
            guard handle & 0xFF_FFFF < Self.sessionSlots else { throw Failure(.value.parameter(1)) }
        case 0x80:
            guard handle & 0xFF_FFFF < Self.objectSlots else { throw Failure(.value.parameter(1)) }
            throw Failure(.handle.parameter(1))
        default:
            throw Failure(.value.parameter(1))
        }
        guard s.sessions.removeValue(forKey: handle) != nil else { throw Failure(.handle.parameter(1)) }
        return Self.response()
    }

    /// TPM2_GetRandom: up to 32 bytes (the largest digest here).
    func getRandom(_ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        var r = ParameterReader(parameters)
        let n = try r.u16(.insufficient.parameter(1))
        try noMoreParameters(r)
        var w = TPMWriter()
        w.tpm2b(s.random.bytes(min(Int(n), 32)))
        return Self.response(parameters: w.bytes)
    }

    /// TPM2_RSA_Decrypt with the key, authorized by a policy session.
    func rsaDecrypt(_ handle: UInt32, _ auth: CommandAuth, _ parameters: [UInt8], _ s: inout State) throws(Failure) -> [UInt8] {
        try checkKeyHandle(handle)
        // Authorization (before the parameters, as the reference TPM checks them).
        guard auth.attributes.intersection(.reserved).isEmpty else { throw Failure(.reservedBits.session(1)) }
        if auth.handle == TPMHandle.passwordSession { throw Failure(.authUnavailable) }
        guard var session = s.sessions[auth.handle] else { throw Failure(.referenceS0) }  // checked in dispatch; kept for safety
        switch session.type {
        case .hmac: throw Failure(.authUnavailable)
        case .trial: throw Failure(.attributes.session(1))
        case .policy: break
        }
        guard (16...32).contains(auth.nonce.count) else { throw Failure(.size.session(1)) }
        if let bound = session.commandCode, bound != .rsaDecrypt { throw Failure(.policyCC.session(1)) }
        guard session.policyDigest == publicArea.authPolicy else { throw Failure(.policyFail.session(1)) }
        let wantsCrypt = !auth.attributes.intersection([.encrypt, .decrypt]).isEmpty
        if wantsCrypt && !session.parameterEncryption { throw Failure(.symmetric.session(1)) }
        let sessionValue = session.isAuthValueNeeded ? authValue : []
        let cpHash = TPMSessionCrypto.cpHash(.rsaDecrypt, names: [publicArea.name], parameters: parameters)
        let expected = TPMSessionCrypto.sessionHMAC(
            sessionValue: sessionValue, pHash: cpHash, nonceNewer: auth.nonce, nonceOlder: session.nonceTPM, attributes: auth.attributes)
        guard auth.hmac == expected else { throw Failure(.badAuth.session(1)) }

        // Parameters.
        var params = parameters
        if auth.attributes.contains(.decrypt), params.count >= 2 {
            let n = Int(params[0]) << 8 | Int(params[1])
            guard n <= params.count - 2 else { throw Failure(.insufficient.parameter(1)) }
            let plain: [UInt8]
            do {
                plain = try TPMSessionCrypto.cfb(
                    Array(params[2..<2 + n]), sessionValue: sessionValue, nonceNewer: auth.nonce, nonceOlder: session.nonceTPM, encrypt: false)
            } catch { throw Failure(.failure) }
            params.replaceSubrange(2..<2 + n, with: plain)
        }
        var r = ParameterReader(params)
        let cipherText = try r.tpm2b(.insufficient.parameter(1))
        let scheme = TPMAlgorithm(rawValue: try r.u16(.insufficient.parameter(2)))
        var schemeHash = TPMAlgorithm.null
        switch scheme {
        case .oaep: schemeHash = TPMAlgorithm(rawValue: try r.u16(.insufficient.parameter(2)))
        case .null, .rsaes: break
        default: throw Failure(.value.parameter(2))
        }
        let label = try r.tpm2b(.insufficient.parameter(3))
        try noMoreParameters(r)
        if scheme != .null, scheme != publicArea.scheme || schemeHash != publicArea.schemeHash { throw Failure(.scheme.parameter(2)) }
        // A non-empty label must end with a zero octet (TPM 2.0 Part 3 §14.3).
        if let last = label.last, last != 0 { throw Failure(.value.parameter(3)) }
        // CryptRsaDecrypt: a cipher text of the wrong size is a bare TPM_RC_SIZE.
        guard cipherText.count == Int(publicArea.keyBits) / 8 else { throw Failure(.size) }
        // swift-crypto's OAEP takes no label: a labelled cipher text cannot be opened
        // here, and fails as a decryption error would.
        guard label.isEmpty else { throw Failure(.value) }
        let message: [UInt8]
        do {
            let key = try _RSA.Encryption.PrivateKey(derRepresentation: privateKeyDER)
            message = Array(try key.decrypt(cipherText, padding: .PKCS1_OAEP_SHA256))
        } catch {
            // OAEP decoding failed: the reference implementation's bare TPM_RC_VALUE.
            throw Failure(.value)
        }

        // Response.
        let nonceTPM = s.random.bytes(32)
        var out = message
        if auth.attributes.contains(.encrypt) {
            do {
                out = try TPMSessionCrypto.cfb(message, sessionValue: sessionValue, nonceNewer: nonceTPM, nonceOlder: auth.nonce, encrypt: true)
            } catch { throw Failure(.failure) }
        }
        var p = TPMWriter()
        p.tpm2b(out)
        let rpHash = TPMSessionCrypto.rpHash(.rsaDecrypt, parameters: p.bytes)
        let responseHMAC = TPMSessionCrypto.sessionHMAC(
            sessionValue: sessionValue, pHash: rpHash, nonceNewer: nonceTPM, nonceOlder: auth.nonce, attributes: auth.attributes)
        var a = TPMWriter()
        a.tpm2b(nonceTPM)
        a.u8(auth.attributes.rawValue)
        a.tpm2b(responseHMAC)
        if auth.attributes.contains(.continueSession) {
            // A policy session is reset once it has authorized a command.
            session.nonceTPM = nonceTPM
            session.policyDigest = TPMPolicy.initial
            session.commandCode = nil
            session.isAuthValueNeeded = false
            s.sessions[auth.handle] = session
        } else {
            s.sessions[auth.handle] = nil
        }
        return Self.response(parameters: p.bytes, auth: a.bytes)
    }
}
