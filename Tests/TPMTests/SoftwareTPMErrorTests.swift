import TPM
import Testing

@Suite("Software TPM: real response codes for wrong handles, policies, auth values and malformed commands")
struct SoftwareTPMErrorTests {
    /// Runs the sequence up to (not including) RSA_Decrypt with `steps`, returns what is needed for it.
    static func prepared(
        _ tpm: SoftwareTPM, _ config: TPMWrappingKeyConfiguration, policy: (TPMClient, inout TPMSession) throws -> Void
    ) throws -> (TPMClient, TPMSession, [UInt8]) {
        let client = TPMClient(transport: { try tpm.execute($0) })
        let name = try client.readPublic(config.handle).name
        var session = try client.startAuthSession()
        try policy(client, &session)
        return (client, session, name)
    }

    static func fullPolicy(_ config: TPMWrappingKeyConfiguration) -> (TPMClient, inout TPMSession) throws -> Void {
        { c, s in
            try c.policyCommandCode(s, .rsaDecrypt)
            try c.policyAuthValue(&s)
            try c.policyOR(s, [config.policyA, config.policyB])
        }
    }

    @Test("A wrong auth value is TPM_RC_BAD_AUTH for session 1 (the key is noDA)")
    func wrongAuth() throws {
        let (tpm, config) = try TPMTestKey.provision()
        var (client, session, name) = try Self.prepared(tpm, config, policy: Self.fullPolicy(config))
        let wrapped = try tpm.encryptToKey([UInt8](repeating: 7, count: 32))
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode(rawValue: 0x9A2))) {
            try client.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: wrapped, session: &session, authValue: Array("wrong".utf8))
        }
        // Through the unwrapper, with the session flushed afterwards.
        var bad = config
        bad.password = Array("nope\0".utf8)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.badAuth.session(1))) {
            try TPMLockboxUnwrapper(configuration: bad).unwrap(wrapped, transport: { try tpm.execute($0) })
        }
        #expect(tpm.loadedSessionCount == 1)  // only the one left open above
        #expect(TPMResponseCode.badAuth.session(1).description == "TPM_RC_BAD_AUTH (session 1) 0x9a2")
    }

    @Test("A policy that does not reach the key's authPolicy: POLICY_FAIL, or VALUE at PolicyOR")
    func wrongPolicy() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let wrapped = try tpm.encryptToKey([UInt8](repeating: 7, count: 32))
        // No PolicyOR: the digest is policy-a, not the OR.
        var (client, session, name) = try Self.prepared(tpm, config) { c, s in
            try c.policyCommandCode(s, .rsaDecrypt)
            try c.policyAuthValue(&s)
        }
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode(rawValue: 0x99D))) {
            try client.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: wrapped, session: &session, authValue: config.authValue)
        }
        // No PolicyAuthValue: PolicyOR refuses (the digest is in neither branch): TPM_RC_VALUE, parameter 1.
        (client, session, name) = try Self.prepared(tpm, config) { c, s in try c.policyCommandCode(s, .rsaDecrypt) }
        #expect(throws: TPMError.response(command: .policyOR, code: TPMResponseCode(rawValue: 0x1C4))) {
            try client.policyOR(session, [config.policyA, config.policyB])
        }
        // A second, different command code: TPM_RC_VALUE, parameter 1.
        #expect(throws: TPMError.response(command: .policyCommandCode, code: TPMResponseCode.value.parameter(1))) {
            try client.policyCommandCode(session, .getRandom)
        }
        // Wrong policy-b in the configuration: PolicyOR gives a digest that is not the key's.
        var bad = config
        bad.policyB = [UInt8](repeating: 9, count: 32)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.policyFail.session(1))) {
            try TPMLockboxUnwrapper(configuration: bad).unwrap(wrapped, transport: { try tpm.execute($0) })
        }
        // A trial session cannot authorize.
        let c = TPMClient(transport: { try tpm.execute($0) })
        var trial = try c.startAuthSession(type: .trial)
        try c.policyCommandCode(trial, .rsaDecrypt)
        try c.policyAuthValue(&trial)
        try c.policyOR(trial, [config.policyA, config.policyB])
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.attributes.session(1))) {
            try c.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: wrapped, session: &trial, authValue: config.authValue)
        }
    }

    @Test("Wrong handles: HANDLE, VALUE or REFERENCE as libtpms answers, and a Name mismatch for another key")
    func wrongHandles() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let client = TPMClient(transport: { try tpm.execute($0) })
        #expect(throws: TPMError.response(command: .readPublic, code: TPMResponseCode(rawValue: 0x18B))) { try client.readPublic(0x8180_0002) }
        var other = config
        other.handle = 0x8100_0001
        #expect(throws: TPMError.response(command: .readPublic, code: TPMResponseCode.handle.handle(1))) {
            try TPMLockboxUnwrapper(configuration: other).unwrap([1], transport: { try tpm.execute($0) })
        }
        // Session handles: in range but not loaded, or past MAX_ACTIVE_SESSIONS (64).
        #expect(throws: TPMError.response(command: .flushContext, code: TPMResponseCode(rawValue: 0x1CB))) { try client.flushContext(0x0300_0005) }
        #expect(throws: TPMError.response(command: .flushContext, code: TPMResponseCode(rawValue: 0x1C4))) { try client.flushContext(0x0300_0077) }
        #expect(throws: TPMError.response(command: .flushContext, code: TPMResponseCode.value.parameter(1))) { try client.flushContext(config.handle) }
        #expect(throws: TPMError.response(command: .policyAuthValue, code: .referenceH0)) {
            var s = TPMSession(handle: 0x0300_0005, type: .policy, nonceTPM: [], parameterEncryption: true)
            try client.policyAuthValue(&s)
        }
        #expect(throws: TPMError.response(command: .policyAuthValue, code: TPMResponseCode.value.handle(1))) {
            var s = TPMSession(handle: 0x0300_0077, type: .policy, nonceTPM: [], parameterEncryption: true)
            try client.policyAuthValue(&s)
        }
        // Transient handles: an empty slot, or an index past the slots.
        #expect(throws: TPMError.response(command: .readPublic, code: .referenceH0)) { try client.readPublic(0x8000_0002) }
        #expect(throws: TPMError.response(command: .readPublic, code: TPMResponseCode(rawValue: 0x184))) { try client.readPublic(0x80FF_0000) }
        #expect(throws: TPMError.response(command: .policyAuthValue, code: TPMResponseCode.value.handle(1))) {
            var s = TPMSession(handle: 0x8180_0001, type: .policy, nonceTPM: [], parameterEncryption: true)
            try client.policyAuthValue(&s)
        }
        // The TPM holds another key than the configuration names.
        let (otherTPM, _) = try TPMProvisioning.provision(keyPEM: TPMTestKey.otherPEM, authValue: TPMTestKey.password)
        #expect { try TPMLockboxUnwrapper(configuration: config).unwrap([1], transport: { try otherTPM.execute($0) }) } throws: {
            if case .nameMismatch(0x8180_0001, config.publicName, otherTPM.name) = $0 as? TPMError { true } else { false }
        }
        // RSA_Decrypt on a wrong key handle.
        var (c2, session, name) = try Self.prepared(tpm, config, policy: Self.fullPolicy(config))
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.handle.handle(1))) {
            try c2.rsaDecrypt(keyHandle: 0x8180_0002, keyName: name, cipherText: [1], session: &session, authValue: config.authValue)
        }
        // An unloaded session in the authorization area.
        try c2.flushContext(session.handle)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: .referenceS0)) {
            try c2.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: [1], session: &session, authValue: config.authValue)
        }
    }

    @Test("RSA_Decrypt parameters: size, value, scheme and label errors")
    func decryptParameters() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let wrapped = try tpm.encryptToKey([UInt8](repeating: 7, count: 32))
        func attempt(_ cipher: [UInt8], scheme: TPMAlgorithm = .null, label: [UInt8] = []) throws -> TPMResponseCode? {
            var (client, session, name) = try Self.prepared(tpm, config, policy: Self.fullPolicy(config))
            defer { _ = try? client.flushContext(session.handle) }
            do {
                _ = try client.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: cipher, session: &session, authValue: config.authValue, scheme: scheme, label: label)
                return nil
            } catch {
                if case .response(_, let code) = error { return code }
                return nil
            }
        }
        // CryptRsaDecrypt's codes come back bare, as from libtpms and the reference TPM.
        #expect(try attempt([1, 2, 3]) == TPMResponseCode(rawValue: 0x095))  // TPM_RC_SIZE
        #expect(try attempt([UInt8](repeating: 0x42, count: 256)) == .value)
        #expect(try attempt(wrapped, scheme: .rsaes) == TPMResponseCode(rawValue: 0x2D2))  // TPM_RC_SCHEME, parameter 2
        #expect(try attempt(wrapped, label: Array("label".utf8)) == TPMResponseCode.value.parameter(3))  // no final NUL
        #expect(try attempt(wrapped, label: Array("label\0".utf8)) == .value)  // labels unsupported: a decryption failure
        #expect(try attempt(wrapped, scheme: .oaep) == nil)
        #expect(tpm.loadedSessionCount == 0)
    }

    @Test("Sessions: authorization missing or of the wrong kind, bad StartAuthSession parameters, session memory")
    func sessions() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let client = TPMClient(transport: { try tpm.execute($0) })
        let name = try client.readPublic(config.handle).name
        // No authorization area at all.
        var p = TPMWriter()
        p.tpm2b([UInt8](repeating: 0, count: 256))
        p.u16(TPMAlgorithm.null.rawValue)
        p.tpm2b([])
        let noAuth = TPMClient.command(.rsaDecrypt, handles: [config.handle], parameters: p.bytes)
        #expect(tpmResponseCode(try tpm.execute(noAuth)) == .authMissing)
        // A password session: the key has userWithAuth clear.
        var a = TPMWriter()
        a.u32(TPMHandle.passwordSession)
        a.tpm2b([])
        a.u8(0x01)
        a.tpm2b(config.authValue)
        let pw = TPMClient.command(.rsaDecrypt, handles: [config.handle], authorization: a.bytes, parameters: p.bytes)
        #expect(tpmResponseCode(try tpm.execute(pw)) == TPMResponseCode(rawValue: 0x12F))
        // An HMAC session: the same.
        var hmac = try client.startAuthSession(type: .hmac)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: .authUnavailable)) {
            try client.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: [1], session: &hmac, authValue: config.authValue)
        }
        try client.flushContext(hmac.handle)
        // StartAuthSession parameter checks.
        func start(nonce: Int = 32, salt: [UInt8] = [], type: UInt8 = 1, sym: [UInt16] = [0x0006, 128, 0x0043], hash: UInt16 = 0x000B) throws -> TPMResponseCode {
            var w = TPMWriter()
            w.tpm2b([UInt8](repeating: 1, count: nonce))
            w.tpm2b(salt)
            w.u8(type)
            for v in sym { w.u16(v) }
            w.u16(hash)
            return tpmResponseCode(try tpm.execute(TPMClient.command(.startAuthSession, handles: [TPMHandle.null, TPMHandle.null], parameters: w.bytes)))
        }
        #expect(try start(nonce: 8) == TPMResponseCode.size.parameter(1))
        #expect(try start(salt: [1]) == TPMResponseCode.value.parameter(2))
        #expect(try start(type: 2) == TPMResponseCode.value.parameter(3))
        #expect(try start(sym: [0x000A, 0x000B]) == TPMResponseCode(rawValue: 0x4D6))  // TPM_RC_SYMMETRIC, parameter 4 (XOR unsupported)
        #expect(try start(sym: [0x0006, 256, 0x0043]) == TPMResponseCode.symmetric.parameter(4))
        #expect(try start(hash: 0x0004) == TPMResponseCode(rawValue: 0x5C3))  // TPM_RC_HASH, parameter 5
        // A session without a symmetric algorithm cannot encrypt parameters.
        var plain = try client.startAuthSession(type: .policy, aes128CFB: false)
        try client.policyCommandCode(plain, .rsaDecrypt)
        try client.policyAuthValue(&plain)
        try client.policyOR(plain, [config.policyA, config.policyB])
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.symmetric.session(1))) {
            try client.rsaDecrypt(keyHandle: config.handle, keyName: name, cipherText: [1], session: &plain, authValue: config.authValue)
        }
        // Three sessions fit; the fourth does not.
        _ = try client.startAuthSession()
        _ = try client.startAuthSession()
        #expect(tpm.loadedSessionCount == 3)
        #expect(throws: TPMError.response(command: .startAuthSession, code: TPMResponseCode(rawValue: 0x903))) { try client.startAuthSession() }
    }

    @Test("Malformed commands: size, tag, code, authorization area; random bytes never crash")
    func malformed() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let good = TPMClient.command(.readPublic, handles: [config.handle])
        #expect(tpmResponseCode(try tpm.execute(good)) == .success)
        #expect(tpmResponseCode(try tpm.execute(Array(good.dropLast()))) == .commandSize)
        #expect(tpmResponseCode(try tpm.execute([0x80, 0x01, 0, 0, 0, 9, 0, 0, 1])) == .commandSize)
        var badTag = good
        badTag[1] = 0x03
        #expect(tpmResponseCode(try tpm.execute(badTag)) == .badTag)
        #expect(tpmResponseCode(try tpm.execute(TPMClient.command(TPMCommandCode(rawValue: 0x144)))) == .commandCode)
        #expect(tpmResponseCode(try tpm.execute([UInt8](repeating: 0, count: 5000))) == .commandSize)
        // A session area on a command that takes none: handle 0 is no session (VALUE, session 1);
        // a loaded session without audit/encrypt/decrypt (ATTRIBUTES); with them, unsupported (AUTH_CONTEXT).
        #expect(tpmResponseCode(try tpm.execute(TPMClient.command(.getRandom, authorization: [0, 0, 0, 0, 0, 0, 0, 0, 0], parameters: [0, 4]))) == .value.session(1))
        let session = try TPMClient(transport: { try tpm.execute($0) }).startAuthSession()
        for (attributes, code) in [(UInt8(0x01), TPMResponseCode.attributes.session(1)), (UInt8(0x41), .authContext)] {
            var a = TPMWriter()
            a.u32(session.handle)
            a.tpm2b([UInt8](repeating: 1, count: 32))
            a.u8(attributes)
            a.tpm2b([])
            #expect(tpmResponseCode(try tpm.execute(TPMClient.command(.getRandom, authorization: a.bytes, parameters: [0, 4]))) == code)
        }
        // An authorization size larger than what follows: TPM_RC_SIZE; one that splits a session: TPM_RC_AUTHSIZE.
        var cmd = TPMClient.command(.rsaDecrypt, handles: [config.handle], authorization: [UInt8](repeating: 0, count: 9))
        cmd[17] = 0x40
        #expect(tpmResponseCode(try tpm.execute(cmd)) == .size)
        cmd = TPMClient.command(.rsaDecrypt, handles: [config.handle], authorization: [UInt8](repeating: 0, count: 10), parameters: [0, 0, 0])
        #expect(tpmResponseCode(try tpm.execute(cmd)) == .authSize)
        // Truncated parameters.
        #expect(tpmResponseCode(try tpm.execute(TPMClient.command(.getRandom, parameters: [0]))) == TPMResponseCode.insufficient.parameter(1))
        #expect(tpmResponseCode(try tpm.execute(TPMClient.command(.getRandom, parameters: [0, 1, 2]))) == .size)
        // Random corruption of real commands.
        var rng = SystemRandomNumberGenerator()
        let samples = [good, TPMClient.command(.getRandom, parameters: [0, 8]), TPMClient.command(.flushContext, parameters: [3, 0, 0, 0])]
        for _ in 0..<400 {
            var c = samples[Int.random(in: 0..<samples.count, using: &rng)]
            c[Int.random(in: 0..<c.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            let r = try tpm.execute(c)
            #expect(r.count >= 10)
        }
        #expect(TPMResponseCode(rawValue: 0x1C4).description == "TPM_RC_VALUE (parameter 1) 0x1c4")
        #expect(TPMResponseCode(rawValue: 0x18B).subject == "handle 1")
    }

    @Test("Transport failures and bad configurations are typed errors")
    func clientErrors() throws {
        struct Down: Error {}
        let (_, config) = try TPMTestKey.provision()
        #expect { try TPMLockboxUnwrapper(configuration: config).unwrap([1], transport: { _ in throw Down() }) } throws: {
            if case .transport = $0 as? TPMError { true } else { false }
        }
        #expect { try TPMLockboxUnwrapper(configuration: config).unwrap([1], transport: { _ in [0x80, 0x01] }) } throws: {
            if case .malformedResponse(.readPublic, _) = $0 as? TPMError { true } else { false }
        }
        #expect { try TPMLockboxUnwrapper(configuration: config).unwrap([UInt8](repeating: 0, count: 513), transport: { $0 }) } throws: {
            if case .invalidInput = $0 as? TPMError { true } else { false }
        }
        var props = Dictionary(uniqueKeysWithValues: config.properties.map { ($0.name, $0.value) })
        props["wrapping-key-policy-b"] = nil
        #expect(throws: TPMError.invalidConfiguration("missing property wrapping-key-policy-b in the ibm,uv-tpm node")) {
            try TPMWrappingKeyConfiguration(properties: props)
        }
        #expect { try SoftwareTPM(keyPEM: "not a key", authValue: []) } throws: { if case .invalidKey = $0 as? TPMError { true } else { false } }
        #expect { try TPMProvisioning.provision(keyPEM: TPMTestKey.pem, authValue: [1, 0, 2]) } throws: {
            if case .invalidConfiguration = $0 as? TPMError { true } else { false }
        }
    }
}
