import Foundation
import SwtpmTestSupport
import TPM
import Testing

#if canImport(Glibc)
/// The software TPM against libtpms (swtpm): the same key loaded into both must have the
/// same Name, the Ultravisor's sequence (HMACs, AES-128-CFB parameter encryption, policy
/// digests) must work against the real implementation, and the same mistakes must get
/// the same response codes.
@Suite(
    "Software TPM conformance with libtpms (swtpm)", .serialized,
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")))
struct SoftwareTPMConformanceTests {
    /// swtpm with the test key loaded by TPM2_LoadExternal (fixedTPM/fixedParent clear,
    /// as LoadExternal requires), and the SoftwareTPM holding the same key.
    static func setUp() throws -> (SWTPMHarness, UInt32, [UInt8], SoftwareTPM) {
        let soft = try SoftwareTPM(keyPEM: TPMTestKey.pem, authValue: TPMTestKey.password)
        let ints = tpmRSAIntegers(pem: TPMTestKey.pem)
        try #require(ints.count >= 6)
        var area = soft.publicArea
        area.attributes = [.adminWithPolicy, .noDA, .decrypt]
        var sensitive = TPMWriter()
        sensitive.u16(TPMAlgorithm.rsa.rawValue)
        sensitive.tpm2b(TPMTestKey.password)
        sensitive.tpm2b([])
        sensitive.tpm2b(ints[4])  // the prime p
        var p = TPMWriter()
        p.tpm2b(sensitive.bytes)
        p.tpm2b(area.marshalled)
        p.u32(TPMHandle.null)
        let swtpm = try SWTPMHarness()
        let response = swtpm.execute(TPMClient.command(TPMCommandCode(rawValue: 0x167), parameters: p.bytes))  // TPM2_LoadExternal
        try #require(tpmResponseCode(response) == .success)
        var r = TPMReader(response, offset: 10)
        let handle = try r.u32("objectHandle")
        let name = try r.tpm2b("name")
        #expect(name == area.name, "the Name computed here must be the TPM's")
        return (swtpm, handle, name, soft)
    }

    @Test("The Ultravisor's sequence against libtpms: Name, policy digests, HMAC and parameter encryption agree")
    func sequence() throws {
        let (swtpm, handle, name, soft) = try Self.setUp()
        defer { swtpm.stop() }
        let client = TPMClient(transport: { swtpm.execute($0) })
        let master = (0..<32).map { UInt8($0 ^ 0x5A) }
        let wrapped = try soft.encryptToKey(master)
        var session = try client.startAuthSession()
        for attributes: TPMSessionAttributes in [[.encrypt, .continueSession], [.encrypt, .decrypt, .continueSession], [.continueSession]] {
            try client.policyCommandCode(session, .rsaDecrypt)
            try client.policyAuthValue(&session)
            #expect(try client.policyGetDigest(session) == TPMPolicy.rsaDecryptWithAuthValue)
            try client.policyOR(session, soft.policyBranches)
            #expect(try client.policyGetDigest(session) == soft.publicArea.authPolicy)
            let out = try client.rsaDecrypt(
                keyHandle: handle, keyName: name, cipherText: wrapped, session: &session, authValue: TPMTestKey.password, attributes: attributes)
            #expect(out == master)
        }
        try client.flushContext(session.handle)
        // The whole unwrapper, configured for the transient handle.
        let config = TPMWrappingKeyConfiguration(
            handle: handle, password: TPMTestKey.password + [0], publicName: name, policyA: soft.policyBranches[0], policyB: soft.policyBranches[1])
        #expect(try TPMLockboxUnwrapper(configuration: config).unwrap(wrapped, transport: { swtpm.execute($0) }) == master)
    }

    @Test("The same mistakes get the same response codes from both TPMs")
    func responseCodes() throws {
        let (swtpm, swHandle, swName, soft) = try Self.setUp()
        defer { swtpm.stop() }
        let wrapped = try soft.encryptToKey([UInt8](repeating: 3, count: 32))
        let password = TPMTestKey.password
        typealias Raw = ([UInt8]) -> [UInt8]
        func withPolicy(_ c: TPMClient, _ body: (inout TPMSession) throws -> Void) throws {
            var s = try c.startAuthSession()
            defer { _ = try? c.flushContext(s.handle) }
            try c.policyCommandCode(s, .rsaDecrypt)
            try c.policyAuthValue(&s)
            try c.policyOR(s, soft.policyBranches)
            try body(&s)
        }
        let cases: [(String, (TPMClient, UInt32, [UInt8], Raw) throws -> Void)] = [
            ("success", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &$0, authValue: password) } }),
            ("wrong auth value", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &$0, authValue: [1]) } }),
            ("no policy", { c, h, n, _ in
                var s = try c.startAuthSession()
                defer { _ = try? c.flushContext(s.handle) }
                _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &s, authValue: password)
            }),
            ("cipher text size", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: [1], session: &$0, authValue: password) } }),
            ("scheme", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &$0, authValue: password, scheme: .rsaes) } }),
            ("label without NUL", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &$0, authValue: password, label: [1]) } }),
            ("empty transient slot", { c, h, n, _ in try withPolicy(c) { _ = try c.rsaDecrypt(keyHandle: 0x8000_0002, keyName: n, cipherText: wrapped, session: &$0, authValue: password) } }),
            ("missing persistent key", { c, _, _, _ in _ = try c.readPublic(0x8100_0009) }),
            ("transient index out of range", { c, _, _, _ in _ = try c.readPublic(0x80FF_0000) }),
            ("flush unloaded session", { c, _, _, _ in try c.flushContext(0x0300_0005) }),
            ("flush out-of-range session", { c, _, _, _ in try c.flushContext(0x0300_0077) }),
            ("flush persistent", { c, _, _, _ in try c.flushContext(0x8180_0001) }),
            ("policy on unloaded session", { c, _, _, _ in
                var s = TPMSession(handle: 0x0300_0005, type: .policy, nonceTPM: [], parameterEncryption: true)
                try c.policyAuthValue(&s)
            }),
            ("policy on HMAC session", { c, _, _, _ in
                var s = try c.startAuthSession(type: .hmac)
                defer { _ = try? c.flushContext(s.handle) }
                try c.policyAuthValue(&s)
            }),
            ("authorization by unloaded session", { c, h, n, _ in
                var s = TPMSession(handle: 0x0300_0005, type: .policy, nonceTPM: [UInt8](repeating: 0, count: 32), parameterEncryption: true)
                _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &s, authValue: password)
            }),
            ("authorization by HMAC session", { c, h, n, _ in
                var s = try c.startAuthSession(type: .hmac)
                defer { _ = try? c.flushContext(s.handle) }
                _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &s, authValue: password)
            }),
            ("authorization by trial session", { c, h, n, _ in
                var s = try c.startAuthSession(type: .trial)
                defer { _ = try? c.flushContext(s.handle) }
                _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &s, authValue: password)
            }),
            ("encrypt without symmetric", { c, h, n, _ in
                var s = try c.startAuthSession(aes128CFB: false)
                defer { _ = try? c.flushContext(s.handle) }
                try c.policyCommandCode(s, .rsaDecrypt)
                try c.policyAuthValue(&s)
                try c.policyOR(s, soft.policyBranches)
                _ = try c.rsaDecrypt(keyHandle: h, keyName: n, cipherText: wrapped, session: &s, authValue: password)
            }),
            ("unimplemented policy command code", { c, _, _, _ in
                let s = try c.startAuthSession()
                defer { _ = try? c.flushContext(s.handle) }
                try c.policyCommandCode(s, TPMCommandCode(rawValue: 0x999))
            }),
            ("PolicyOR with one digest", { c, _, _, _ in
                let s = try c.startAuthSession()
                defer { _ = try? c.flushContext(s.handle) }
                try c.policyOR(s, [TPMPolicy.initial])
            }),
            ("PolicyOR without a match", { c, _, _, _ in
                let s = try c.startAuthSession()
                defer { _ = try? c.flushContext(s.handle) }
                try c.policyOR(s, [[UInt8](repeating: 1, count: 32), [UInt8](repeating: 2, count: 32)])
            }),
            ("fourth session", { c, _, _, _ in
                var handles: [UInt32] = []
                defer { for h in handles { _ = try? c.flushContext(h) } }
                for _ in 0..<4 { handles.append(try c.startAuthSession().handle) }
            }),
            ("no authorization area", { _, h, _, raw in
                var p = TPMWriter()
                p.tpm2b(wrapped)
                p.u16(TPMAlgorithm.null.rawValue)
                p.tpm2b([])
                throw TPMError.response(command: .rsaDecrypt, code: tpmResponseCode(raw(TPMClient.command(.rsaDecrypt, handles: [h], parameters: p.bytes))))
            }),
            ("password authorization", { _, h, _, raw in
                var a = TPMWriter()
                a.u32(TPMHandle.passwordSession)
                a.tpm2b([])
                a.u8(1)
                a.tpm2b(password)
                var p = TPMWriter()
                p.tpm2b(wrapped)
                p.u16(TPMAlgorithm.null.rawValue)
                p.tpm2b([])
                throw TPMError.response(command: .rsaDecrypt, code: tpmResponseCode(raw(TPMClient.command(.rsaDecrypt, handles: [h], authorization: a.bytes, parameters: p.bytes))))
            }),
            ("session on a command without authorization", { _, _, _, raw in
                throw TPMError.response(command: .getRandom, code: tpmResponseCode(raw(TPMClient.command(.getRandom, authorization: [UInt8](repeating: 0, count: 9), parameters: [0, 4]))))
            }),
            ("authorization size too large", { _, h, _, raw in
                var cmd = TPMClient.command(.rsaDecrypt, handles: [h], authorization: [UInt8](repeating: 0, count: 9))
                cmd[17] = 0x40
                throw TPMError.response(command: .rsaDecrypt, code: tpmResponseCode(raw(cmd)))
            }),
            ("truncated parameter", { _, _, _, raw in throw TPMError.response(command: .getRandom, code: tpmResponseCode(raw(TPMClient.command(.getRandom, parameters: [0])))) }),
            ("extra parameter bytes", { _, _, _, raw in throw TPMError.response(command: .getRandom, code: tpmResponseCode(raw(TPMClient.command(.getRandom, parameters: [0, 1, 2])))) }),
            ("unknown command", { _, _, _, raw in throw TPMError.response(command: .getRandom, code: tpmResponseCode(raw(TPMClient.command(TPMCommandCode(rawValue: 0x1FF))))) }),
            ("StartAuthSession nonce too short", { _, _, _, raw in
                var w = TPMWriter()
                w.tpm2b([1, 2, 3, 4, 5, 6, 7, 8])
                w.tpm2b([])
                w.u8(1)
                w.u16(TPMAlgorithm.null.rawValue)
                w.u16(TPMAlgorithm.sha256.rawValue)
                throw TPMError.response(command: .startAuthSession, code: tpmResponseCode(raw(TPMClient.command(.startAuthSession, handles: [TPMHandle.null, TPMHandle.null], parameters: w.bytes))))
            }),
        ]
        let softClient = TPMClient(transport: { try soft.execute($0) })
        let realClient = TPMClient(transport: { swtpm.execute($0) })
        func outcome(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "success"
            } catch let e as TPMError {
                if case .response(_, let code) = e { return code.description }
                return e.description
            } catch {
                return "\(error)"
            }
        }
        var answers: [String: String] = [:]
        for (what, run) in cases {
            let mine = outcome { try run(softClient, soft.keyHandle, soft.name, { (try? soft.execute($0)) ?? [] }) }
            let real = outcome { try run(realClient, swHandle, swName, { swtpm.execute($0) }) }
            #expect(mine == real, "\(what): SoftwareTPM answers \(mine), libtpms \(real)")
            answers[what] = real
        }
        // The comparison means something: the cases reach the codes they are about.
        #expect(answers["success"] == "success")
        #expect(answers["wrong auth value"] == "TPM_RC_BAD_AUTH (session 1) 0x9a2")
        #expect(answers["no policy"] == "TPM_RC_POLICY_FAIL (session 1) 0x99d")
        #expect(answers["missing persistent key"] == "TPM_RC_HANDLE (handle 1) 0x18b")
        #expect(Set(answers.values).count > 15)
    }
}
#endif
