import Foundation
import Testing

/// `svmkit boot` end to end, through the built binary.
@Suite("svmkit boot: options, JSON and exit codes")
struct BootCommandTests {
    @Test("svm=off: exit 0, JSON with the contract keys")
    func svmOff() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--cmdline", "svm=off console=hvc0", "--memory", "1G", "--cpus", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(object["secure"] as? Bool == false)
        #expect(object["esmResult"] is NSNull)
        #expect(object["isolationViolations"] as? Int == 0)
    }

    @Test("Bad input exits 2 naming the option", arguments: [
        (["boot", "--memory", "3X"], "--memory"),
        (["boot", "--esm-check", "maybe"], "--esm-check"),
        (["boot", "--fdt", "/nonexistent/x.dtb"], "--fdt"),
        (["boot", "--kbase", "0x1234"], "--kbase"),
    ])
    func badInput(arguments: [String], option: String) async throws {
        let r = try await FDTCLIRunner.run(arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains(option), "\(r.stderr)")
    }

    @Test("--trace writes one JSON object per line")
    func trace() async throws {
        let path = FDTCLIRunner.temporary(".jsonl")
        defer { try? FileManager.default.removeItem(at: path) }
        let r = try await FDTCLIRunner.run(["boot", "--memory", "1G", "--cpus", "1", "--trace", path.path])
        _ = r
        let lines = try String(contentsOf: path, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil) }
    }
}

/// The whole chain a user runs: keys and blob from `svmkit esm`, a QEMU dumpdtb tree,
/// then `svmkit boot` on them.
@Suite("svmkit boot: secure boots end to end")
struct SecureBootCommandTests {
    @Test("Default boot goes secure: exit 0, UV_ESM 0, every ESM check passed, nothing violated")
    func defaultBoot() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--memory", "1G", "--cpus", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(o["secure"] as? Bool == true)
        #expect(o["esmResult"] as? Int == 0)
        #expect(o["osTerm"] is NSNull)
        let checks = try #require(o["esmChecks"] as? [[String: Any]])
        #expect(checks.count >= 5)
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true })
        let shared = try #require(o["sharedPages"] as? [String: Int])
        // paca.c: alloc_shared_lppaca (6.12) sizes the region by NR_CPUS (2048): 2 MiB.
        #expect(shared["lppaca"] == 32)
        #expect((shared["swiotlb"] ?? 0) > 0)
        #expect(o["isolationViolations"] as? Int == 0)
    }

    @Test("A QEMU fixture tree boots with a kernel, initrd and blob made by svmkit esm; a changed bootargs space fails")
    func qemuTreeWithESMTools() async throws {
        let dir = FDTCLIRunner.temporary("-chain")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ n: String) -> String { dir.appendingPathComponent(n).path }
        let kernel = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(kernel).write(to: URL(fileURLWithPath: path("vmlinux.bin")))
        try Data(Array("initramfs contents\n".utf8)).write(to: URL(fileURLWithPath: path("initrd.img")))
        try Data(Array("correct horse battery staple".utf8)).write(to: URL(fileURLWithPath: path("pass.txt")))
        let cmdline = "svm=on swiotlb=force console=hvc0 root=/dev/vda2"
        for args in [
            ["esm", "keygen", "-o", dir.path, "--name", "owner"],
            ["esm", "keygen", "-o", dir.path, "--name", "tpm"],
            ["esm", "create", "--origin", path("owner-pubkey.pem"), "--recipient", path("tpm-pubkey.pem"),
             "--kernel", path("vmlinux.bin"), "--initrd", path("initrd.img"), "--cmdline", cmdline,
             "--attach", "rootd=" + path("pass.txt"), "-o", path("esmb.dtb")],
            ["esm", "add-to-initrd", path("esmb.dtb"), path("initrd.img"), "-o", path("initrd-esm.img")],
        ] {
            let r = try await FDTCLIRunner.run(args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
        let fdt = FDTCLIRunner.fixture("qemu-pseries-kernel-2cpu-2G.dtb").path
        let boot = ["boot", "--fdt", fdt, "--kernel", path("vmlinux.bin"), "--initrd", path("initrd-esm.img"),
            "--tpm-key", path("tpm-seckey.pem"), "--json"]
        let ok = try await FDTCLIRunner.run(boot + ["--cmdline", cmdline])
        #expect(ok.status == 0, "\(ok.stderr) \(ok.text.suffix(2000))")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout)) as? [String: Any])
        #expect(o["secure"] as? Bool == true)

        let bad = try await FDTCLIRunner.run(boot + ["--cmdline", cmdline + " "])
        #expect(bad.status == 1)
        let b = try #require(try JSONSerialization.jsonObject(with: Data(bad.stdout)) as? [String: Any])
        #expect(b["secure"] as? Bool == false)
        #expect(b["osTerm"] as? String == "Switch to secure mode failed.")
        #expect(b["esmResult"] as? Int == -4)  // H_PARAMETER after H_SVM_INIT_ABORT
        let failed = (b["esmChecks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }
        #expect(failed.contains { ($0["check"] as? String) == "bootargs" })
    }

    @Test("--kexec normal leaves no explicit share; --kexec crash keeps them, and the audit says so")
    func kexec() async throws {
        let normal = try await FDTCLIRunner.run(["boot", "--memory", "1G", "--cpus", "2", "--kexec", "normal", "--json"])
        #expect(normal.status == 0, "\(normal.stderr)")
        let n = try #require(try JSONSerialization.jsonObject(with: Data(normal.stdout)) as? [String: Any])
        #expect((n["kexec"] as? String ?? "").contains("UV_UNSHARE_ALL_PAGES"))
        #expect((n["kernelLog"] as? [String] ?? []).contains { $0.contains("kexec: Unshared all shared pages.") })
        let crash = try await FDTCLIRunner.run(["boot", "--memory", "1G", "--cpus", "2", "--kexec", "crash", "--json"])
        let c = try #require(try JSONSerialization.jsonObject(with: Data(crash.stdout)) as? [String: Any])
        #expect(!(c["kernelLog"] as? [String] ?? []).contains { $0.contains("kexec: Unshared all shared pages.") })
        #expect((c["audits"] as? [String] ?? []).count >= 2)
    }
}
