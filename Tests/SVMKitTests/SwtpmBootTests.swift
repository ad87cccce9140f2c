import Foundation
import SVMKit
import SwtpmTestSupport
import Testing

#if canImport(Glibc)
import Glibc

/// Boots whose wrapping key is held only by a real swtpm (issue 10 items 3 and 4): the
/// Ultravisor's unwrap of lockbox-1 (reference/ultravisor-facts.md §2.7) runs against
/// swtpm over `H_TPM_COMM`; a TPM that dies gives `H_RESOURCE` (§1.5), UV_ESM aborts,
/// and the guest gets H_PARAMETER and terminates through `ibm,os-term` (§2.9).
/// Skipped, with the reason, where swtpm is not installed or cannot start.
@Suite(
    "Boot with the key in swtpm", .serialized, .timeLimit(.minutes(1)),
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")))
struct SwtpmBootTests {
    /// A running swtpm with the key provisioned and its files written.
    static func provisioned() throws -> (SwtpmProcess, TPMProvisionedKey) {
        let swtpm = try SwtpmProcess()
        do {
            return (swtpm, try swtpm.provisionKey())
        } catch {
            swtpm.stop()
            throw error
        }
    }

    static func config(_ external: ExternalTPM) -> BootConfiguration { ExternalTPMBootTests.config(.external(external)) }

    /// Checks a boot that UV_ESM aborted at lockbox-1 because the TPM was unreachable.
    static func expectTPMAbort(_ vm: SecureVirtualMachine, _ r: BootReport) {
        #expect(!r.secure)
        #expect(r.esmResult == -4, "H_PARAMETER from H_SVM_INIT_ABORT (§2.9)")
        #expect(r.osTerm == "Switch to secure mode failed.")
        let failure = r.esmFailure ?? ""
        #expect(failure.contains("lockbox-1") && failure.contains("H_RESOURCE"), "\(failure)")
        #expect(vm.machine.trace.records.contains { $0.name == "H_TPM_COMM" && $0.statusName == "H_RESOURCE" })
        #expect(vm.machine.trace.count(of: "H_SVM_INIT_ABORT") == 1)
        #expect(!vm.tpmActivity.failures.isEmpty)
    }

    @Test("lockbox-1 wrapped to the swtpm key: the guest goes secure, and every H_TPM_COMM command went to swtpm")
    func secureBoot() throws {
        let (swtpm, key) = try Self.provisioned()
        defer { swtpm.stop() }
        let external = try ExternalTPM.swtpm(spec: swtpm.spec, directory: swtpm.stateDirectory.path)
        #expect(external.publicKeyPEM == key.publicKeyPEM && external.wrappingKey == key.configuration)
        let backend = try #require(external.backend as? SwtpmBackend)
        let vm = try SecureVirtualMachine(configuration: Self.config(external))
        #expect(vm.image.tpmKeyPEM.isEmpty && vm.image.tpmPublicKeyPEM == key.publicKeyPEM)
        let r = vm.boot()
        #expect(r.secure && r.endedAsRequested, "\(r.esmFailure ?? "")")
        #expect(r.esmResult == 0)
        #expect(r.esmChecks.first { $0.check == "lockbox-1" }?.passed == true)
        #expect(r.esmChecks.allSatisfy { $0.passed })
        #expect(vm.softwareTPM == nil)
        // ReadPublic, StartAuthSession, PolicyCommandCode, PolicyAuthValue, PolicyOR,
        // RSA_Decrypt, FlushContext: all seven reached swtpm and were answered.
        #expect(backend.commandsSent == 7 && vm.tpmActivity.answeredCount == 7 && vm.tpmActivity.failures.isEmpty)
        #expect(vm.machine.trace.count(of: "H_TPM_COMM") == 7 + vm.tpmActivity.closeCount)
        // A second guest boots from the same swtpm (the session was flushed).
        let again = try SecureVirtualMachine(configuration: Self.config(external)).boot()
        #expect(again.secure)
    }

    @Test("Wrong key: an initrd whose blob was wrapped to another key; swtpm refuses RSA_Decrypt and UV_ESM aborts naming lockbox-1")
    func wrongKey() throws {
        let (swtpm, _) = try Self.provisioned()
        defer { swtpm.stop() }
        let external = try ExternalTPM.swtpm(spec: swtpm.spec, directory: swtpm.stateDirectory.path)
        var c = Self.config(external)
        let other = try SoftwareTPM(keyPEM: TestKeys.tpmKeyPEM, authValue: Array("x".utf8))
        let base = DefaultGuestContent.initrd()
        let blob = try BootImageBuilder.makeBlob(
            tpmPublicKeyPEM: other.publicKeyPEM, kernel: DefaultGuestContent.kernel(), initrd: base, commandLine: c.commandLine,
            attachments: [:])
        c.initrd = try ESMInitrd.addBlob(blob, to: base)
        let vm = try SecureVirtualMachine(configuration: c)
        let r = vm.boot()
        #expect(!r.secure && r.esmResult == -4 && r.osTerm == "Switch to secure mode failed.")
        let failure = r.esmFailure ?? ""
        // libtpms answers an OAEP decoding error with TPM_RC_FAILURE.
        #expect(failure.contains("lockbox-1") && failure.contains("TPM2_RSA_Decrypt"), "\(failure)")
        #expect(vm.tpmActivity.failures.isEmpty, "swtpm answered every command")
        #expect(vm.tpmActivity.answeredCount == 7)
        #expect(other.commandsExecuted == 0)
    }

    /// Kills (or freezes) swtpm just before the Nth command reaches it.
    final class Sabotage: TPMBackend, @unchecked Sendable {
        // Used by one boot on one thread; `seen` is only touched in execute.
        let backend: SwtpmBackend
        let swtpm: SwtpmProcess
        let before: Int
        let freeze: Bool
        var seen = 0

        init(_ backend: SwtpmBackend, _ swtpm: SwtpmProcess, before: Int, freeze: Bool) {
            self.backend = backend
            self.swtpm = swtpm
            self.before = before
            self.freeze = freeze
        }

        func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
            seen += 1
            if seen == before {
                if freeze { swtpm.signal(SIGSTOP) } else { swtpm.kill9() }
            }
            return try backend.execute(command)
        }

        func close() { backend.close() }
    }

    @Test(
        "swtpm killed or frozen mid-boot: H_RESOURCE, UV_ESM aborts at lockbox-1, os-term, no hang",
        arguments: [(1, false), (4, false), (6, false), (2, true)])
    func diesMidBoot(before: Int, freeze: Bool) throws {
        let (swtpm, key) = try Self.provisioned()
        defer { swtpm.stop() }
        let backend = SwtpmBackend(address: try SwtpmAddress.parse(swtpm.spec), timeoutMilliseconds: 500)
        let sabotage = Sabotage(backend, swtpm, before: before, freeze: freeze)
        let vm = try SecureVirtualMachine(configuration: Self.config(ExternalTPM(label: swtpm.spec, backend: sabotage, key: key)))
        let r = vm.boot()
        Self.expectTPMAbort(vm, r)
        #expect(vm.tpmActivity.answeredCount == before - 1, "the commands before the kill were answered")
        let reason = vm.tpmActivity.failures.first?.reason ?? ""
        #expect(reason.contains("127.0.0.1:\(swtpm.port)"), "\(reason)")
        if freeze {
            #expect(reason.contains("within 500 ms"), "\(reason)")
        } else {
            #expect(!swtpm.isRunning)
        }
    }
}
#endif
