import Foundation
import TPM
import Testing

@Suite("Software TPM: the Ultravisor's lockbox unwrap sequence (reference §2.7)")
struct SoftwareTPMSequenceTests {
    @Test("Policy digests and the key's Name are the TPM's (known answers)")
    func knownAnswers() throws {
        #expect(tpmHex(TPMPolicy.rsaDecryptWithAuthValue) == "8dbd2aa10f701b1eda230fa8a38803d342f3b48c2ffcbed56c04674c79dff00f")
        #expect(tpmHex(TPMPolicy.objectChangeAuthWithAuthValue) == "e529f5d6112872954e8ed6605117b757e237c6e19513a949fee1f204c458023a")
        #expect(tpmHex(TPMPolicy.or([TPMPolicy.rsaDecryptWithAuthValue, TPMPolicy.objectChangeAuthWithAuthValue]))
            == "949674c2734e86a426c2462700b9481c909f86587c94961d215c6429a03049ba")
        let kdf = TPMSessionCrypto.kdfa(key: [1, 1, 1, 1], label: "CFB", contextU: .init(repeating: 2, count: 16), contextV: .init(repeating: 3, count: 16), bits: 256)
        #expect(tpmHex(kdf) == "8112019224bb87f6d9b298c3306456c4593b10df44423d6c78f064ea34a3e273")
        let (tpm, config) = try TPMTestKey.provision()
        let area = tpm.publicArea.marshalled
        // type RSA, nameAlg SHA-256, attributes, authPolicy = the OR digest.
        #expect(Array(area.prefix(10)) == [0x00, 0x01, 0x00, 0x0B, 0x00, 0x02, 0x04, 0x92, 0x00, 0x20])
        #expect(Array(area[10..<42]) == TPMPolicy.or([config.policyA, config.policyB]))
        // symmetric NULL, scheme OAEP/SHA-256, 2048 bits, exponent 0 (= 65537), 256-byte modulus.
        #expect(Array(area[42..<54]) == [0x00, 0x10, 0x00, 0x17, 0x00, 0x0B, 0x08, 0x00, 0, 0, 0, 0])
        #expect(Array(area[54..<56]) == [0x01, 0x00] && area.count == 56 + 256)
        #expect(tpm.name.count == 34 && Array(tpm.name.prefix(2)) == [0x00, 0x0B])
        #expect(config.publicName == tpm.name && config.handle == 0x8180_0001)
        #expect(config.password == TPMTestKey.password + [0])
    }

    @Test("The full sequence unwraps the master key; the commands are those of UV_TSS_Decrypt, in order")
    func fullSequence() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let master = (0..<32).map { UInt8($0 * 3) }
        let wrapped = try tpm.encryptToKey(master)
        #expect(wrapped.count == 256)
        let log = TPMWireLog()
        let key = try TPMLockboxUnwrapper(configuration: config).unwrap(wrapped, transport: log.transport(tpm))
        #expect(key == master)
        #expect(log.commandCodes == [.readPublic, .startAuthSession, .policyCommandCode, .policyAuthValue, .policyOR, .rsaDecrypt, .flushContext])
        #expect(log.exchanges.allSatisfy { tpmResponseCode($0.response) == .success })
        #expect(log.exchanges.allSatisfy { $0.command.count <= 4096 && $0.response.count <= 4096 })
        #expect(tpm.loadedSessionCount == 0)
        // ENCRYPT: the master key never crosses the wire in clear.
        let decryptResponse = log.exchanges[5].response
        #expect(decryptResponse.indices.dropLast(31).allSatisfy { Array(decryptResponse[$0..<$0 + 32]) != master })
        // The StartAuthSession command asks for a policy session with AES-128-CFB and SHA-256.
        let start = log.exchanges[1].command
        #expect(Array(start.suffix(9)) == [0x01, 0x00, 0x06, 0x00, 0x80, 0x00, 0x43, 0x00, 0x0B])
        #expect(Array(start[10..<18]) == [0x40, 0, 0, 0x07, 0x40, 0, 0, 0x07])  // tpmKey = bind = TPM_RH_NULL
        // The configuration read from the node's properties works the same.
        let fromNode = try TPMWrappingKeyConfiguration(properties: Dictionary(uniqueKeysWithValues: config.properties.map { ($0.name, $0.value) }))
        #expect(fromNode == config)
        #expect(try TPMLockboxUnwrapper(configuration: fromNode).unwrap(wrapped, transport: { try tpm.execute($0) }) == master)
    }

    @Test("Parameter encryption both ways (decrypt and encrypt attributes) gives the same plaintext")
    func bothDirections() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let master = [UInt8](repeating: 0xA5, count: 32)
        let wrapped = try tpm.encryptToKey(master)
        let client = TPMClient(transport: { try tpm.execute($0) })
        let pub = try client.readPublic(config.handle)
        var session = try client.startAuthSession()
        for _ in 0..<2 {
            // The policy is reset after each use, so it is run again each time.
            try client.policyCommandCode(session, .rsaDecrypt)
            try client.policyAuthValue(&session)
            try client.policyOR(session, [config.policyA, config.policyB])
            #expect(try client.policyGetDigest(session) == tpm.publicArea.authPolicy)
            let out = try client.rsaDecrypt(
                keyHandle: config.handle, keyName: pub.name, cipherText: wrapped, session: &session, authValue: config.authValue,
                attributes: [.encrypt, .decrypt, .continueSession])
            #expect(out == master)
        }
        // Without continueSession the session is gone afterwards.
        try client.policyCommandCode(session, .rsaDecrypt)
        try client.policyAuthValue(&session)
        try client.policyOR(session, [config.policyA, config.policyB])
        _ = try client.rsaDecrypt(keyHandle: config.handle, keyName: pub.name, cipherText: wrapped, session: &session, authValue: config.authValue, attributes: [])
        #expect(tpm.loadedSessionCount == 0)
    }

    @Test("A policy session is reset after it authorizes: reusing it without the policy is TPM_RC_POLICY_FAIL")
    func policyReset() throws {
        let (tpm, config) = try TPMTestKey.provision()
        let wrapped = try tpm.encryptToKey([UInt8](repeating: 1, count: 32))
        let client = TPMClient(transport: { try tpm.execute($0) })
        let pub = try client.readPublic(config.handle)
        var session = try client.startAuthSession()
        try client.policyCommandCode(session, .rsaDecrypt)
        try client.policyAuthValue(&session)
        try client.policyOR(session, [config.policyA, config.policyB])
        _ = try client.rsaDecrypt(keyHandle: config.handle, keyName: pub.name, cipherText: wrapped, session: &session, authValue: config.authValue)
        #expect(try client.policyGetDigest(session) == TPMPolicy.initial)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.policyFail.session(1))) {
            try client.rsaDecrypt(keyHandle: config.handle, keyName: pub.name, cipherText: wrapped, session: &session, authValue: config.authValue)
        }
    }

    @Test("Deterministic with a seed; GetRandom answers up to 32 bytes")
    func seeded() throws {
        let (a, _) = try TPMTestKey.provision(seed: 42)
        let (b, _) = try TPMTestKey.provision(seed: 42)
        let ca = TPMClient(transport: { try a.execute($0) }), cb = TPMClient(transport: { try b.execute($0) })
        let ra = try ca.getRandom(16), rb = try cb.getRandom(16)
        #expect(ra == rb && ra.count == 16)
        #expect(try ca.getRandom(100).count == 32)
        #expect(try ca.getRandom(16) != ra)
    }

    @Test("Concurrent clients are served one command at a time")
    func concurrent() throws {
        let (tpm, config) = try TPMTestKey.provision()
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let c = TPMClient(transport: { try tpm.execute($0) })
            for _ in 0..<10 {
                #expect((try? c.readPublic(config.handle).name) == tpm.name)
                #expect((try? c.getRandom(8).count) == 8)
            }
        }
        #expect(tpm.commandsExecuted == 16 * 20)
        tpm.close()
        #expect(tpm.closeCount == 1)
    }
}
