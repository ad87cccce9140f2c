import Foundation
import SVMKit
import SwtpmTestSupport
import Testing

/// The TPM choice of ``BootConfiguration`` without swtpm: the public-key path of the
/// image builder, the wiring of an external backend into `H_TPM_COMM`, the `H_RESOURCE`
/// path when nothing listens (reference/ultravisor-facts.md §1.5, §2.7, §2.9), and the
/// typed errors naming `--tpm`, `--tpm-dir` and `--tpm-key`. These run everywhere.
@Suite("External TPM: configuration, wiring, unreachable TPM", .timeLimit(.minutes(1)))
struct ExternalTPMBootTests {
    static let authValue = Array("external-tpm-test".utf8)

    /// A software TPM with `TestKeys.tpmKeyPEM`, and its parameters as an external TPM's.
    static func softwareKey() throws -> (SoftwareTPM, TPMWrappingKeyConfiguration) {
        try TPMProvisioning.provision(keyPEM: TestKeys.tpmKeyPEM, authValue: authValue, seed: 5)
    }

    /// A 1 GiB, 2-vCPU secure boot with `tpm` (the embedded TPM without a given key).
    static func config(_ tpm: BootTPM) -> BootConfiguration {
        var c = SecureVirtualMachineTests.config("svm=on console=hvc0")
        c.tpmKeyPEM = nil
        c.tpm = tpm
        return c
    }

    @Test("The builder wraps lockbox-1 to the external TPM's public PEM and keeps no private key")
    func publicKeyPath() throws {
        let (soft, key) = try Self.softwareKey()
        let external = ExternalTPM(label: "test", backend: soft, wrappingKey: key, publicKeyPEM: soft.publicKeyPEM)
        let image = try BootImageBuilder.build(Self.config(.external(external)))
        #expect(image.tpmKeyPEM.isEmpty)
        #expect(image.tpmPublicKeyPEM == soft.publicKeyPEM)
        let blob = try ESMBlob(bytes: try ESMBlobLocator.locate(inInitrd: try #require(image.segment("initrd")).bytes).blob)
        // svm-tool's fingerprint: SHA-256 of the public-key file's bytes (§3.5).
        let recipient = try ESMPublicKey(fileBytes: Array(soft.publicKeyPEM.utf8))
        #expect(try blob.lockbox(named: "lockbox-1").fingerprint == recipient.fingerprint)
        let opened = try blob.masterKeyAndLockbox(using: ESMPrivateKey(pemFileBytes: Array(TestKeys.tpmKeyPEM.utf8)))
        #expect(opened.lockbox == "lockbox-1")
    }

    @Test("Embedded (the default): the software TPM is behind H_TPM_COMM and answers the seven commands of §2.7")
    func embedded() throws {
        var c = Self.config(.embedded)
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        let vm = try SecureVirtualMachine(configuration: c)
        let r = vm.boot()
        #expect(r.secure && r.endedAsRequested)
        let soft = try #require(vm.softwareTPM)
        #expect(soft.commandsExecuted == 7)
        #expect(vm.tpmActivity.commandCount == 7 && vm.tpmActivity.failures.isEmpty)
        #expect(vm.image.tpmPublicKeyPEM == soft.publicKeyPEM)
    }

    @Test("An external backend (here a software TPM outside SVMKit's control) gets every H_TPM_COMM command; the boot goes secure")
    func externalBackend() throws {
        let (soft, key) = try Self.softwareKey()
        let external = ExternalTPM(label: "outside", backend: soft, wrappingKey: key, publicKeyPEM: soft.publicKeyPEM)
        let vm = try SecureVirtualMachine(configuration: Self.config(.external(external)))
        let r = vm.boot()
        #expect(r.secure && r.endedAsRequested, "\(r.esmFailure ?? "")")
        #expect(vm.softwareTPM == nil)
        #expect(r.esmChecks.first { $0.check == "lockbox-1" }?.passed == true)
        #expect(soft.commandsExecuted == 7 && vm.tpmActivity.answeredCount == 7)
        #expect(vm.machine.trace.count(of: "H_TPM_COMM") == 7 + vm.tpmActivity.closeCount)
    }

    @Test("Nothing listening at the swtpm address: H_TPM_COMM gives H_RESOURCE, UV_ESM aborts at lockbox-1, the guest os-terms")
    func unreachable() throws {
        let (soft, key) = try Self.softwareKey()
        let port = try #require(freeLoopbackPortPair())
        let backend = SwtpmBackend(address: try SwtpmAddress(host: "127.0.0.1", port: port), timeoutMilliseconds: 2000)
        let external = ExternalTPM(label: "swtpm:127.0.0.1:\(port)", backend: backend, wrappingKey: key, publicKeyPEM: soft.publicKeyPEM)
        let vm = try SecureVirtualMachine(configuration: Self.config(.external(external)))
        let r = vm.boot()
        #expect(!r.secure)
        #expect(r.esmResult == -4, "the guest sees H_PARAMETER from H_SVM_INIT_ABORT (§2.9)")
        #expect(r.osTerm == "Switch to secure mode failed.")
        let failure = try #require(r.esmFailure)
        #expect(failure.contains("lockbox-1") && failure.contains("H_RESOURCE"), "\(failure)")
        #expect(r.esmChecks.first { $0.check == "lockbox-1" }?.passed == false)
        let tpmCalls = vm.machine.trace.records.filter { $0.name == "H_TPM_COMM" && $0.arguments.first == 1 }
        #expect(!tpmCalls.isEmpty && tpmCalls.allSatisfy { $0.statusName == "H_RESOURCE" })
        #expect(vm.machine.trace.count(of: "H_SVM_INIT_ABORT") == 1)
        #expect(vm.tpmActivity.failures.first?.reason == SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(port)").description)
        #expect(soft.commandsExecuted == 0)
    }

    @Test("--tpm-key with an external TPM is refused, naming --tpm-key")
    func keyWithExternal() throws {
        let (soft, key) = try Self.softwareKey()
        var c = Self.config(.external(ExternalTPM(label: "swtpm:127.0.0.1:2321", backend: soft, wrappingKey: key, publicKeyPEM: soft.publicKeyPEM)))
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        #expect { _ = try BootImageBuilder.build(c) } throws: { error in
            guard let e = error as? BootError else { return false }
            return e.input == "--tpm-key" && e.reason.contains("swtpm:127.0.0.1:2321")
        }
    }

    @Test("ExternalTPM.swtpm: bad addresses name --tpm; a missing directory or missing/garbled key files name --tpm-dir")
    func swtpmSpecErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-tpmdir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for spec in ["swtpm:example.org:2321", "swtpm:127.0.0.1", "swtpm:127.0.0.1:0", "tpm:127.0.0.1:2321", "swtpm:127.0.0.1:65535"] {
            #expect { _ = try ExternalTPM.swtpm(spec: spec, directory: dir.path) } throws: { ($0 as? BootError)?.input == "--tpm \(spec)" }
        }
        let spec = "swtpm:127.0.0.1:2321"
        func expectDirError(_ path: String, mentioning text: String) {
            #expect { _ = try ExternalTPM.swtpm(spec: spec, directory: path) } throws: { error in
                guard let e = error as? BootError else { return false }
                return e.input == "--tpm-dir \(path)" && e.reason.contains(text)
            }
        }
        expectDirError(dir.appendingPathComponent("absent").path, mentioning: "no such directory")
        expectDirError(dir.path, mentioning: "wrapping-key.json")  // empty directory
        try Data("{ not json".utf8).write(to: dir.appendingPathComponent(TPMProvisionedKey.parametersFileName))
        expectDirError(dir.path, mentioning: "not JSON")

        // Good parameters, but a public key that is not the one they name.
        let (soft, key) = try Self.softwareKey()
        var area = soft.publicArea
        area.attributes.insert(.sensitiveDataOrigin)
        var c = key
        c.publicName = area.name
        try TPMProvisionedKey(configuration: c, publicArea: area, publicKeyPEM: soft.publicKeyPEM).write(to: dir.path)
        #expect(throws: Never.self) { try ExternalTPM.swtpm(spec: spec, directory: dir.path) }
        let other = try SoftwareTPM(keyPEM: try TPMProvisioning.generateKeyPEM(), authValue: Self.authValue)
        try Data(other.publicKeyPEM.utf8).write(to: dir.appendingPathComponent(TPMProvisionedKey.publicKeyFileName))
        expectDirError(dir.path, mentioning: "is not the Name of tpmrsapubkey.pem")
        try Data("garbage".utf8).write(to: dir.appendingPathComponent(TPMProvisionedKey.publicKeyFileName))
        expectDirError(dir.path, mentioning: "not an RSA public key")
    }

    @Test("ExternalTPM equality: label, key and the backend object")
    func equality() throws {
        let (soft, key) = try Self.softwareKey()
        let a = ExternalTPM(label: "x", backend: soft, wrappingKey: key, publicKeyPEM: soft.publicKeyPEM)
        var b = a
        #expect(a == b && a.hashValue == b.hashValue)
        b.backend = try SoftwareTPM(keyPEM: TestKeys.tpmKeyPEM, authValue: Self.authValue)
        #expect(a != b)
        b = a
        b.label = "y"
        #expect(a != b)
        #expect(BootTPM.external(a) != .embedded && BootTPM.external(a).label == "x")
    }
}
