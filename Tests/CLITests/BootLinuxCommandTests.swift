import Foundation
import Testing

/// Issue 17 items 1–3 through the built binary: `--linux`, `--dma-path`,
/// `--no-io-check`, the JSON keys `linux` and `swiotlbPool`, the 6.12 regression end to
/// end, and the preflight warnings of `svmkit boot` and `svmkit esm verify --linux`.
@Suite("svmkit boot --linux: the mainline secure-guest I/O regression end to end")
struct BootLinuxCommandTests {
    static func json(_ r: FDTCLIRunner.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
    }

    static let small = ["--memory", "1G", "--cpus", "2", "--json"]

    @Test("6.12 without swiotlb=force: secure, no pool, ciphertext on the disk, the diagnosis names the change and the fix")
    func regression() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", "6.12", "--cmdline", "svm=on console=hvc0"] + Self.small)
        #expect(r.status == 1, "\(r.stderr)")
        let o = try Self.json(r)
        #expect(o["secure"] as? Bool == true)
        #expect(o["linux"] as? String == "6.12")
        let pool = try #require(o["swiotlbPool"] as? [String: Any])
        #expect(pool["present"] as? Bool == false && pool["forced"] as? Bool == false && pool["base"] is NSNull)
        #expect(pool["bytes"] as? Int == 0)
        let check = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(check["passed"] as? Bool == false && check["corrupted"] as? Bool == true, "\(check)")
        #expect((check["detail"] as? String)?.contains("different from what the guest wrote") == true, "\(check)")
        let log = try #require(o["kernelLog"] as? [String])
        #expect(log.contains { $0.hasSuffix("software IO TLB: No low mem") })
        let diagnoses = try #require(o["diagnoses"] as? [[String: Any]])
        let cause = try #require(diagnoses.first?["cause"] as? String)
        #expect(cause.contains("no SWIOTLB bounce pool") && cause.contains("903cd0f315fe"), "\(cause)")
        #expect(cause.contains("swiotlb=force") && cause.contains("bootargs digest"), "\(cause)")
        #expect(r.stderr.contains("warning: Linux 6.12.y gives a secure guest no SWIOTLB bounce pool"), "\(r.stderr)")
        #expect(r.stderr.contains("\"svm=on swiotlb=force console=hvc0\""), "the line to use: \(r.stderr)")
    }

    @Test("6.12 with swiotlb=force (the default line): pool present, forced and shared; the data come back intact")
    func fixed() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", "6.12"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"), "\(r.stderr)")
        let o = try Self.json(r)
        let pool = try #require(o["swiotlbPool"] as? [String: Any])
        #expect(pool["present"] as? Bool == true && pool["forced"] as? Bool == true, "\(pool)")
        #expect(pool["bytes"] as? Int == 64 << 20)
        #expect((pool["base"] as? String)?.hasPrefix("0x") == true)
        let check = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(check["passed"] as? Bool == true && check["corrupted"] as? Bool == false, "\(check)")
        #expect((o["sharedPages"] as? [String: Int])?["swiotlb"] == 1024)
    }

    @Test("5.10 without swiotlb=force still has its pool: exit 0, no warning")
    func fiveTen() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", "5.10", "--cmdline", "svm=on console=hvc0"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"), "\(r.stderr)")
        let o = try Self.json(r)
        #expect((o["swiotlbPool"] as? [String: Any])?["present"] as? Bool == true)
    }

    @Test("--no-io-check skips the round trip: blockDeviceCheck is null, the warning is still printed")
    func noIOCheck() async throws {
        let r = try await FDTCLIRunner.run(
            ["boot", "--linux", "6.1", "--cmdline", "svm=on console=hvc0", "--no-io-check"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.json(r)["blockDeviceCheck"] is NSNull)
        #expect(r.stderr.contains("warning: Linux 6.1.y"), "\(r.stderr)")
    }

    @Test("Bad --linux and --dma-path exit 2 naming the option", arguments: [
        (["boot", "--linux", "4.19"], "--linux 4.19"), (["boot", "--dma-path", "vio"], "--dma-path vio"),
        (["soak", "--linux", "5.15", "--operations", "1"], "--linux 5.15"),
    ])
    func badInput(arguments: [String], option: String) async throws {
        let r = try await FDTCLIRunner.run(arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains(option), "\(r.stderr)")
    }

    @Test("esm verify --linux warns on standard error and never changes the exit status")
    func verifyPreflight() async throws {
        let r = try await CLIShell.run(
            """
            set -e
            for k in owner tpm; do "$SVMKIT" esm keygen -o keys --name $k >/dev/null; done
            head -c 65536 /dev/urandom > vmlinux.bin
            head -c 4096 /dev/urandom > initrd.img
            "$SVMKIT" esm create --origin keys/owner-pubkey.pem --recipient keys/tpm-pubkey.pem --kernel vmlinux.bin \\
                --initrd initrd.img --cmdline 'svm=on console=hvc0' -o esmb.dtb >/dev/null 2>&1
            "$SVMKIT" esm add-to-initrd esmb.dtb initrd.img -o initrd-esm.img >/dev/null
            set +e
            v() { "$SVMKIT" esm verify --kernel vmlinux.bin --initrd initrd-esm.img --key keys/tpm-seckey.pem "$@" >/dev/null; echo "exit $?" >&2; }
            v --cmdline 'svm=on console=hvc0' --linux 6.12 --linux 6.1
            v --cmdline 'svm=on console=hvc0' --linux 5.10
            v --cmdline 'svm=on console=hvc0 quiet' --linux 6.12
            """)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("exit ") } == ["exit 0", "exit 0", "exit 1"], "\(r.stderr)")
        let warnings = lines.filter { $0.contains("warning:") }
        #expect(warnings.count == 2, "\(r.stderr)")
        #expect(warnings.first?.contains("Linux 6.12.y, 6.1.y gives a secure guest no SWIOTLB bounce pool") == true)
        #expect(warnings.first?.contains("\"svm=on swiotlb=force console=hvc0\"") == true)
    }
}
