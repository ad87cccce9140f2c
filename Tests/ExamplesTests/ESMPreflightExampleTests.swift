import Foundation
import SVMKit
import Testing

/// `Examples/ESMPreflight`: the Ultravisor's checks before deploying.
@Suite("Example: ESMPreflight")
struct ESMPreflightExampleTests {
    /// Files for a guest whose blob was made for `svm=on console=hvc0`, with lockbox-1
    /// opening with a fresh TPM key (as svm-tool's `esm` and `svm add` lay them out).
    struct Deployment {
        let directory: URL
        var kernel: String { directory.appendingPathComponent("vmlinux.bin").path }
        var initrd: String { directory.appendingPathComponent("initrd-esm.img").path }
        var key: String { directory.appendingPathComponent("tpm-seckey.pem").path }
        static let commandLine = "svm=on console=hvc0"

        init() throws {
            directory = ExampleRunner.temporary("-deploy")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let keyPEM = try TPMProvisioning.generateKeyPEM()
            let tpmKey = try ESMPrivateKey(pemFileBytes: Array(keyPEM.utf8))
            let kernelBytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let initrdBytes = try CPIOArchive.write([CPIOEntry(name: "init", inode: 1, data: Array("#!/bin/sh\n".utf8))])
            let master = ESMMasterKey.random()
            var blob = try ESMBlob.create(origin: try ESMPrivateKey.generate().publicKey, comment: "owner", masterKey: master)
            try blob.authorize(tpmKey.publicKey, comment: "TPM", masterKey: master)
            try blob.setDigests(
                ESMDigests(kernel: kernelBytes, initrd: initrdBytes, bootargs: Self.commandLine), masterKey: master)
            try Data(kernelBytes).write(to: URL(fileURLWithPath: kernel))
            try Data(try ESMInitrd.addBlob(blob.bytes, to: initrdBytes)).write(to: URL(fileURLWithPath: self.initrd))
            try Data(keyPEM.utf8).write(to: URL(fileURLWithPath: key))
        }

        func arguments(cmdline: String = Deployment.commandLine) -> [String] {
            ["--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline, "--key", key]
        }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test("The demonstration: good inputs pass; an extra space, a flipped kernel bit and svm=off fail; the simulator agrees")
    func demonstration() async throws {
        let r = try await ExampleRunner.run("ESMPreflight")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("=> PASS: 8 checks, all passed"), "\(r)")
        #expect(r.stdout.contains("=> FAIL: 1 of 8 checks failed: bootargs"), "whitespace counts (ultravisor-facts §3.4)")
        #expect(r.stdout.contains("=> FAIL: 1 of 8 checks failed: kernel"))
        #expect(r.stdout.contains("=> FAIL: 2 of 8 checks failed: svm=, bootargs"))
        #expect(r.stdout.contains("simulator: the guest ended secure (UV_ESM returned 0)"))
        // A failed digest check is U_PARAMETER (-4) from UV_ESM (ultravisor-facts §2.6, §2.9).
        #expect(r.stdout.contains("simulator: the guest ended not secure (UV_ESM -4"), "\(r)")
        #expect(r.stdout.contains("OK: every verdict as expected"))
    }

    @Test("Files that match pass, and the simulated Ultravisor boots them secure")
    func filesPass() async throws {
        let d = try Deployment()
        defer { d.remove() }
        let r = try await ExampleRunner.run("ESMPreflight", d.arguments() + ["--boot"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("note: blob: opt/ibm/pef/esmb.dtb at offset"), "found as svm_esm_cpio_esmb() finds it: \(r)")
        #expect(r.stdout.contains("PASS kernel: SHA-512 of the kernel [kbase, kbase + 300000) (kernel-size 300000) matches"), "\(r)")
        #expect(r.stdout.contains("simulator: the guest ended secure"), "\(r)")
        #expect(r.stdout.contains("OK: the Ultravisor's checks pass"))
    }

    @Test("A command line that differs from the blob's fails with exit 1, naming bootargs and both digests")
    func wrongCommandLine() async throws {
        let d = try Deployment()
        defer { d.remove() }
        let r = try await ExampleRunner.run("ESMPreflight", d.arguments(cmdline: "svm=on console=hvc0 quiet"))
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("FAIL bootargs: SHA-512 of the 25-byte command line \"svm=on console=hvc0 quiet\" does not match: expected "), "\(r)")
        #expect(r.stderr.contains("would not go secure"))
    }

    @Test("A missing file exits 2; a partial set of options is refused")
    func badInput() async throws {
        let d = try Deployment()
        defer { d.remove() }
        var args = d.arguments()
        args[1] = d.directory.appendingPathComponent("missing.bin").path
        let missing = try await ExampleRunner.run("ESMPreflight", args)
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.stderr.contains("cannot read") && missing.stderr.contains("missing.bin"), "\(missing)")
        let partial = try await ExampleRunner.run("ESMPreflight", ["--kernel", d.kernel])
        #expect(partial.status != 0)
        #expect(partial.stderr.contains("give all of --kernel, --initrd, --cmdline and --key"), "\(partial)")
    }
}
