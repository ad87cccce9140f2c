import ESM
import Foundation
import Synchronization
import Hypervisor
import TPM
import Testing

#if canImport(Glibc)
import Glibc

/// The Ultravisor's TPM command sequence (reference/ultravisor-facts.md §2.7) against a
/// wrapping key held only by swtpm: provisioned through SwtpmBackend, persisted at
/// 0x81800001, and used to open an ESM blob's lockbox-1 made for its public PEM.
/// Skipped, with the reason, where swtpm is not installed or cannot start.
@Suite(
    "swtpm behind the Ultravisor's unwrap", .serialized, .timeLimit(.minutes(1)),
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")))
struct SwtpmSequenceTests {
    static let password = Array("swtpm-wrapping-key-passwd".utf8)

    /// swtpm, a backend for it, and the key provisioned in it.
    static func provisioned() throws -> (SwtpmProcess, SwtpmBackend, TPMProvisionedKey) {
        let swtpm = try SwtpmProcess()
        do {
            let backend = try SwtpmBackend(spec: swtpm.spec)
            let key = try TPMProvisioning.provisionTPMKey(on: backend, authValue: password)
            return (swtpm, backend, key)
        } catch {
            swtpm.stop()
            throw error
        }
    }

    /// A blob whose lockbox-1 is wrapped to `pem` (as `esm create` + `esm authorize`), and its master key.
    static func blob(for pem: String) throws -> (ESMBlob, ESMMasterKey, [UInt8]) {
        let origin = try ESMPublicKey(fileBytes: Array(try SoftwareTPM(keyPEM: TPMTestKey.pem, authValue: password).publicKeyPEM.utf8), source: "origin")
        let master = ESMMasterKey.random()
        var blob = try ESMBlob.create(origin: origin, masterKey: master)
        let name = try blob.authorize(ESMPublicKey(fileBytes: Array(pem.utf8), source: "TPM key"), masterKey: master)
        #expect(name == "lockbox-1")
        return (blob, master, try blob.lockbox(named: "lockbox-1").encryptedSymKey)
    }

    /// A public area for a key swtpm does not hold (the shared test key).
    static func otherArea() throws -> TPMRSAPublicArea {
        try SoftwareTPM(keyPEM: TPMTestKey.otherPEM, authValue: password).publicArea
    }

    @Test("Provisioned key: template, Name and policy agree with SVMKit's; lockbox-1 unwraps through the backend and H_TPM_COMM")
    func unwrap() throws {
        let (swtpm, backend, key) = try Self.provisioned()
        defer { swtpm.stop() }
        let c = key.configuration
        #expect(c.handle == 0x8180_0001)
        #expect(c.password == Self.password + [0])
        #expect(c.policyA == TPMPolicy.rsaDecryptWithAuthValue && c.policyB == TPMPolicy.objectChangeAuthWithAuthValue)
        #expect(key.publicArea.authPolicy == TPMPolicy.or([c.policyA, c.policyB]))
        #expect(key.publicArea.attributes == TPMRSAPublicArea.wrappingKeyAttributes.union(.sensitiveDataOrigin))
        #expect(key.publicArea.scheme == .oaep && key.publicArea.schemeHash == .sha256 && key.publicArea.keyBits == 2048)
        #expect(c.publicName == key.publicArea.name)
        #expect(key.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\n") && key.publicKeyPEM.hasSuffix("-----END PUBLIC KEY-----\n"))

        let (_, master, wrapped) = try Self.blob(for: key.publicKeyPEM)
        #expect(wrapped.count == 256)
        let unwrapper = TPMLockboxUnwrapper(configuration: c)
        #expect(try unwrapper.unwrap(wrapped, transport: { try backend.execute($0) }) == master.bytes)
        // As the Ultravisor does it: every command through H_TPM_COMM.
        let hv = try HypervisorTPMTransport(backend: backend)
        #expect(try unwrapper.unwrap(wrapped, transport: hv.execute) == master.bytes)
        #expect(hv.statuses.all.count == 7 && hv.statuses.all.allSatisfy { $0 == .success })

        // The files round-trip, and the Name is checked against the PEM.
        try key.write(to: swtpm.stateDirectory.path)
        let loaded = try TPMProvisionedKey.load(directory: swtpm.stateDirectory.path)
        #expect(loaded.configuration == c && loaded.publicArea == key.publicArea)
        let pemPath = swtpm.stateDirectory.appendingPathComponent(TPMProvisionedKey.publicKeyFileName)
        try Data(try TPMProvisioning.publicKeyPEM(Self.otherArea()).utf8).write(to: pemPath)
        #expect(throws: TPMError.self) { try TPMProvisionedKey.load(directory: swtpm.stateDirectory.path) }
    }

    @Test("Wrong key: a lockbox for another key fails at RSA_Decrypt with the TPM's code; a wrong password and a wrong Name fail too")
    func wrongKey() throws {
        let (swtpm, backend, key) = try Self.provisioned()
        defer { swtpm.stop() }
        let transport: TPMClient.Transport = { try backend.execute($0) }
        let (_, _, foreign) = try Self.blob(for: try TPMProvisioning.publicKeyPEM(Self.otherArea()))
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: .failure)) {  // libtpms: OAEP decoding error is TPM_RC_FAILURE
            try TPMLockboxUnwrapper(configuration: key.configuration).unwrap(foreign, transport: transport)
        }
        let (_, _, wrapped) = try Self.blob(for: key.publicKeyPEM)
        var badPassword = key.configuration
        badPassword.password = Array("not-the-passwd".utf8) + [0]
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: TPMResponseCode.badAuth.session(1))) {
            try TPMLockboxUnwrapper(configuration: badPassword).unwrap(wrapped, transport: transport)
        }
        var badName = key.configuration
        badName.publicName = try Self.otherArea().name
        #expect(throws: TPMError.self) { try TPMLockboxUnwrapper(configuration: badName).unwrap(wrapped, transport: transport) }
        // Re-provisioning replaces the key: the old lockbox no longer opens.
        let again = try TPMProvisioning.provisionTPMKey(on: backend, authValue: Self.password)
        #expect(again.configuration.publicName != key.configuration.publicName)
        #expect(throws: TPMError.response(command: .rsaDecrypt, code: .failure)) {
            try TPMLockboxUnwrapper(configuration: again.configuration).unwrap(wrapped, transport: transport)
        }
        // The sessions were flushed after each failure.
        #expect(try TPMLockboxUnwrapper(configuration: again.configuration).unwrap(
            try Self.blob(for: again.publicKeyPEM).2, transport: transport).count == 32)
    }

    @Test("swtpm killed mid-sequence: the unwrap fails with a transport error naming host:port; H_TPM_COMM gives H_RESOURCE")
    func killed() throws {
        let (swtpm, backend, key) = try Self.provisioned()
        defer { swtpm.stop() }
        let (_, _, wrapped) = try Self.blob(for: key.publicKeyPEM)
        let hv = try HypervisorTPMTransport(backend: backend)
        var seen: [TPMCommandCode] = []
        let transport: TPMClient.Transport = { command in
            let code = TPMCommandCode(rawValue: command[6..<10].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            seen.append(code)
            if code == .rsaDecrypt { swtpm.kill9() }
            return try hv.execute(command)
        }
        do {
            _ = try TPMLockboxUnwrapper(configuration: key.configuration).unwrap(wrapped, transport: transport)
            Issue.record("unwrap succeeded after swtpm was killed")
        } catch {
            guard case .transport(let reason) = error else { Issue.record("expected .transport, got \(error)"); return }
            #expect(reason.hasPrefix("TPM2_RSA_Decrypt"), "\(reason)")
        }
        #expect(seen == [.readPublic, .startAuthSession, .policyCommandCode, .policyAuthValue, .policyOR, .rsaDecrypt, .flushContext])
        #expect(hv.statuses.all == [.success, .success, .success, .success, .success, .resource, .resource])
        // The backend's own error names the endpoint.
        do {
            _ = try backend.send(getRandomCommand)
            Issue.record("a command succeeded after swtpm was killed")
        } catch {
            #expect(error.description.contains("127.0.0.1:\(swtpm.port)"), "\(error)")
        }
    }

    @Test("swtpm dies during a command (connection dropped after the request): connection closed, typed")
    func diesDuringCommand() throws {
        let swtpm = try SwtpmProcess()
        defer { swtpm.stop() }
        let backend = try SwtpmBackend(spec: swtpm.spec, timeoutMilliseconds: 5000)
        _ = try backend.send(getRandomCommand)  // connected
        swtpm.kill9()
        do {
            _ = try backend.send(getRandomCommand)
            Issue.record("answered after swtpm died")
        } catch {
            switch error {
            case .connectionClosed(let endpoint, let command, _, _):
                #expect(endpoint == "127.0.0.1:\(swtpm.port)" && command == "TPM2_GetRandom")
            default: Issue.record("expected connectionClosed, got \(error)")
            }
        }
        #expect(throws: SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(swtpm.port)")) { try backend.send(getRandomCommand) }
    }

    @Test("A stopped (frozen) swtpm: the command times out instead of hanging")
    func frozen() throws {
        let swtpm = try SwtpmProcess()
        defer { swtpm.stop() }
        let backend = try SwtpmBackend(spec: swtpm.spec, timeoutMilliseconds: 300)
        _ = try backend.send(getRandomCommand)
        swtpm.signal(SIGSTOP)
        #expect(throws: SwtpmFailure.timedOut(endpoint: "127.0.0.1:\(swtpm.port)", command: "TPM2_GetRandom", milliseconds: 300)) {
            try backend.send(getRandomCommand)
        }
    }

    @Test("The control channel: a swtpm started without not-need-init answers TPM_RC_FAILURE until CMD_INIT and Startup; CMD_SHUTDOWN stops it")
    func controlChannel() throws {
        let swtpm = try SwtpmProcess(ready: false)
        defer { swtpm.stop() }
        let backend = try SwtpmBackend(spec: swtpm.spec)
        #expect(tpmResponseCode(try backend.send(getRandomCommand)) == .failure)
        try backend.initialize()
        #expect(tpmResponseCode(try backend.send(getRandomCommand)) == .success)
        try backend.initialize()  // already started: TPM_RC_INITIALIZE is fine
        #expect(tpmResponseCode(try backend.send(getRandomCommand)) == .success)
        try backend.shutDown()
        #expect(swtpm.waitForExit(seconds: 5))
    }

    @Test("Two threads share one backend: commands are serialized")
    func threads() throws {
        let swtpm = try SwtpmProcess()
        defer { swtpm.stop() }
        let backend = try SwtpmBackend(spec: swtpm.spec)
        let results = Mutex<[TPMResponseCode]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10 {
                let code = (try? backend.send(getRandomCommand)).map(tpmResponseCode)
                results.withLock { $0.append(code ?? .failure) }
            }
        }
        #expect(results.withLock { $0 } == [TPMResponseCode](repeating: .success, count: 80))
        #expect(backend.connectionsOpened == 1)
    }
}
#endif
