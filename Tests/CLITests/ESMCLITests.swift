import Foundation
import ProcessTestSupport
import Testing

@Suite("svmkit esm, end to end through the built binary")
struct ESMCLITests {
    /// keygen for owner and TPM, a kernel, an initrd, a passphrase.
    static func setUp() async throws -> URL {
        let dir = try ESMCLIHarness.scratch()
        for name in ["owner", "tpm"] {
            let r = try await ESMCLIHarness.run(["esm", "keygen", "-o", "keys", "--name", name], in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("fingerprint (SHA-256) "))
        }
        try ESMCLIHarness.write((0..<70000).map { UInt8(truncatingIfNeeded: $0 &* 13) }, "vmlinux.bin", in: dir)
        try ESMCLIHarness.write((0..<9000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }, "initrd.img", in: dir)
        try ESMCLIHarness.write(Array("correct horse battery staple".utf8), "pass.txt", in: dir)
        return dir
    }

    static let cmdline = "svm=on console=hvc0 root=/dev/mapper/root"

    @Test("keygen → create → inspect → extract → add-to-initrd → verify passes; a changed command line, kernel or key fails with reasons")
    func endToEnd() async throws {
        let dir = try await Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ args: [String]) async throws -> ESMCLIHarness.Result { try await ESMCLIHarness.run(args, in: dir) }

        // Key files: svm-tool's layout, private key readable by the owner only.
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("keys/owner-seckey.pem").path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(String(decoding: try ESMCLIHarness.read("keys/tpm-pubkey.pem", in: dir), as: UTF8.self).hasSuffix("-----END PUBLIC KEY-----\n"))

        var r = try await run([
            "esm", "create", "--origin", "keys/owner-pubkey.pem", "--comment", "owner", "--recipient", "keys/tpm-pubkey.pem",
            "--kernel", "vmlinux.bin", "--initrd", "initrd.img", "--cmdline", Self.cmdline, "--attach", "rootd=pass.txt", "-o", "esmb.dtb",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("as lockbox-1"))

        // The blob is a clean device tree for dtc.
        let dtc = try await ChildProcess.run(
            "dtc", ["-I", "dtb", "-O", "dts", "-o", "/dev/null", dir.appendingPathComponent("esmb.dtb").path])
        #expect(dtc.status == 0 && dtc.stderr.isEmpty)

        r = try await run(["esm", "inspect", "esmb.dtb"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("origin-lockbox") && r.stdout.contains("lockbox-1") && r.stdout.contains("rootd"))
        r = try await run(["esm", "inspect", "esmb.dtb", "--key", "keys/owner-seckey.pem", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["keyLockbox"] as? String == "origin-lockbox")
        let digests = try #require(json["digests"] as? [String: Any])
        #expect(digests["kernelSize"] as? Int == 70000)
        #expect(digests["rtasIsSLOFStub"] as? Bool == true)
        #expect((json["lockboxes"] as? [[String: Any]])?.map { $0["name"] as? String } == ["origin-lockbox", "lockbox-1"])
        #expect((json["files"] as? [[String: Any]])?.first?["decrypts"] as? Bool == true)

        r = try await run(["esm", "extract", "esmb.dtb", "--key", "keys/tpm-seckey.pem", "--name", "rootd"])
        #expect(r.status == 0 && r.stdout == "correct horse battery staple")

        r = try await run(["esm", "add-to-initrd", "esmb.dtb", "initrd.img", "-o", "initrd-esm.img"])
        #expect(r.status == 0, "\(r.stderr)")
        let combined = try ESMCLIHarness.read("initrd-esm.img", in: dir)
        let original = try ESMCLIHarness.read("initrd.img", in: dir)
        #expect(Array(combined.suffix(9000)) == original)
        #expect((combined.count - 9000) % 512 == 0)
        // inspect and extract also find the blob inside the initrd.
        r = try await run(["esm", "extract", "initrd-esm.img", "--key", "keys/owner-seckey.pem", "--name", "rootd", "-o", "out.txt"])
        let extracted = try ESMCLIHarness.read("out.txt", in: dir)
        #expect(r.status == 0 && extracted == Array("correct horse battery staple".utf8))

        let verify = ["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--key", "keys/tpm-seckey.pem"]
        r = try await run(verify + ["--cmdline", Self.cmdline])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("OK: all 6 ESM checks passed"))
        #expect(r.stdout.contains("opens lockbox-1"))

        // One extra space in the command line.
        r = try await run(verify + ["--cmdline", Self.cmdline.replacingOccurrences(of: " root", with: "  root"), "--json"])
        #expect(r.status == 1)
        let v = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(v["passed"] as? Bool == false)
        let checks = try #require(v["checks"] as? [[String: Any]])
        #expect(checks.map { $0["check"] as? String } == ["lockbox-1", "digests-fdt", "rtas", "kernel", "initrd", "bootargs"])
        let failed = checks.filter { $0["passed"] as? Bool == false }
        #expect(failed.map { $0["check"] as? String } == ["bootargs"])
        #expect(failed.first?["expected"] as? String != failed.first?["actual"] as? String)
        #expect(v["esmCheck"] as? String == "enforce" && v["ultravisorBootsOn"] as? Bool == false)
        // --firmware open-power: the check still fails (exit 1), but that Ultravisor only
        // warns (ESM_BLOB_CHK_WARN_ONLY) and boots on; an explicit --esm-check wins.
        let spaced = verify + ["--cmdline", Self.cmdline.replacingOccurrences(of: " root", with: "  root")]
        r = try await run(spaced + ["--firmware", "open-power"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("CONTINUING INSPITE OF ESM CHECK FAILURE"))
        r = try await run(spaced + ["--firmware", "open-power", "--esm-check", "enforce", "--json"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(o["esmCheck"] as? String == "enforce" && o["ultravisorBootsOn"] as? Bool == false)
        r = try await run(spaced + ["--firmware", "ibm"])
        #expect(r.status == 2 && r.stderr.contains("--firmware ibm"))

        // A changed kernel byte.
        var kernel = try ESMCLIHarness.read("vmlinux.bin", in: dir)
        kernel[5000] ^= 0x10
        try ESMCLIHarness.write(kernel, "vmlinux-bad.bin", in: dir)
        r = try await run(["esm", "verify", "--kernel", "vmlinux-bad.bin", "--initrd", "initrd-esm.img", "--key", "keys/tpm-seckey.pem", "--cmdline", Self.cmdline])
        #expect(r.status == 1)
        #expect(r.stdout.contains("FAIL kernel: SHA-512 of the kernel") && r.stdout.contains("expected ") && r.stdout.contains(", actual "))

        // A key that is not authorized.
        r = try await run(["esm", "keygen", "-o", "keys", "--name", "stranger"])
        r = try await run(["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--key", "keys/stranger-seckey.pem", "--cmdline", Self.cmdline])
        #expect(r.status == 1)
        #expect(r.stdout.contains("not an authorized key"))
        r = try await run(["esm", "extract", "esmb.dtb", "--key", "keys/stranger-seckey.pem", "--name", "rootd"])
        #expect(r.status == 2 && r.stderr.contains("not an authorized key"))

        // Bad input: exit 2, naming it.
        r = try await run(["esm", "verify", "--kernel", "missing.bin", "--initrd", "initrd-esm.img", "--key", "keys/tpm-seckey.pem", "--cmdline", "x"])
        #expect(r.status == 2 && r.stderr.contains("missing.bin"))
        r = try await run(["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd.img", "--key", "keys/tpm-seckey.pem", "--cmdline", "x"])
        #expect(r.status == 2 && r.stderr.contains("070701"))
        r = try await run(["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--key", "keys/tpm-pubkey.pem", "--cmdline", "x"])
        #expect(r.status == 2 && r.stderr.contains("tpm-pubkey.pem"))
        r = try await run(["esm", "inspect", "vmlinux.bin"])
        #expect(r.status == 2 && r.stderr.contains("vmlinux.bin"))
    }

    @Test("authorize, revoke, attach and detach edit a blob in place")
    func editing() async throws {
        let dir = try await Self.setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ args: [String]) async throws -> ESMCLIHarness.Result { try await ESMCLIHarness.run(args, in: dir) }
        var r = try await run(["esm", "create", "--origin", "keys/owner-pubkey.pem", "-o", "b.dtb"])
        #expect(r.status == 0)
        r = try await run(["esm", "authorize", "b.dtb", "--pubkey", "keys/tpm-pubkey.pem", "--key", "keys/owner-seckey.pem", "--comment", "host tpm"])
        #expect(r.status == 0 && r.stdout.contains("lockbox-1"), "\(r.stderr)")
        r = try await run(["esm", "authorize", "b.dtb", "--pubkey", "keys/tpm-pubkey.pem", "--key", "keys/owner-seckey.pem"])
        #expect(r.status == 2 && r.stderr.contains("already authorized"))
        r = try await run(["esm", "attach", "b.dtb", "note=pass.txt", "--key", "keys/tpm-seckey.pem"])
        #expect(r.status == 0, "\(r.stderr)")
        r = try await run(["esm", "attach", "b.dtb", "9bad=pass.txt", "--key", "keys/tpm-seckey.pem"])
        #expect(r.status == 2 && r.stderr.contains("file name is invalid"))
        r = try await run(["esm", "extract", "b.dtb", "--key", "keys/owner-seckey.pem", "--name", "note"])
        #expect(r.stdout == "correct horse battery staple")
        r = try await run(["esm", "detach", "b.dtb", "--name", "note"])
        #expect(r.status == 0)
        r = try await run(["esm", "extract", "b.dtb", "--key", "keys/owner-seckey.pem", "--name", "note"])
        #expect(r.status == 2 && r.stderr.contains("not attached"))
        r = try await run(["esm", "revoke", "b.dtb", "--pubkey", "keys/tpm-pubkey.pem"])
        #expect(r.status == 0 && r.stdout.contains("lockbox-1"))
        r = try await run(["esm", "revoke", "b.dtb", "--pubkey", "keys/owner-pubkey.pem"])
        #expect(r.status == 2 && r.stderr.contains("origin"))
        r = try await run(["esm", "create", "--origin", "keys/owner-pubkey.pem", "--kernel", "vmlinux.bin", "-o", "c.dtb"])
        #expect(r.status == 2 && r.stderr.contains("go together"))
    }

    @Test("Help explains each subcommand with examples")
    func help() async throws {
        let dir = try ESMCLIHarness.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try await ESMCLIHarness.run(["esm", "--help"], in: dir)
        #expect(r.status == 0)
        for sub in ["keygen", "create", "inspect", "extract", "add-to-initrd", "verify", "authorize", "revoke", "attach", "detach"] {
            #expect(r.stdout.contains(sub))
        }
        let v = try await ESMCLIHarness.run(["esm", "verify", "--help"], in: dir)
        #expect(v.stdout.contains("Examples:") && v.stdout.contains("Exit status"))
    }
}
