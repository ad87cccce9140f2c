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

    /// `SWIOTLBReplayScenario.linux61ScanHang` for one 128-slot area at 0: 126 one-slot
    /// maps, the even ones from slot 2 unmapped, then 4 KiB from 0x800 with
    /// `min_align_mask` 0xfff (op 188), on which 6.1's `swiotlb_do_find_slots()` spins.
    static var hangTrace: String {
        var ops = (0..<126).map { #"{"op": "map", "id": \#($0), "orig_addr": 65536, "size": 2048}"# }
        ops += stride(from: 2, to: 126, by: 2).map { #"{"op": "unmap", "id": \#($0)}"# }
        ops.append(#"{"op": "map", "id": 128, "orig_addr": 2048, "size": 4096, "min_align_mask": 4095}"#)
        return #"{"pool": {"start": 0, "nslabs": 128}, "ops": ["# + ops.joined(separator: ",\n") + "]}"
    }

    /// A fresh temporary directory (the caller removes it) and `name` inside it.
    static func scratchFile(_ name: String) throws -> (directory: URL, file: URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("boot-linux-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (dir, dir.appendingPathComponent(name))
    }

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

    @Test("6.1 with swiotlb=force: the pool runs 6.1's own slot search (json allocator linux61); the data come back intact")
    func sixOneSearch() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", "6.1"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.json(r)
        let pool = try #require(o["swiotlbPool"] as? [String: Any])
        #expect(pool["allocator"] as? String == "linux61", "\(pool)")
        #expect(o["hang"] is NSNull)
        #expect((o["blockDeviceCheck"] as? [String: Any])?["passed"] as? Bool == true)
        let fast = try Self.json(try await FDTCLIRunner.run(["boot", "--linux", "6.12"] + Self.small))
        #expect((fast["swiotlbPool"] as? [String: Any])?["allocator"] as? String == "fast")
    }

    @Test("6.1's endless slot search through --dma-replay: exit 1, the report names the function, the request and the fix")
    func sixOneHang() async throws {
        let (dir, file) = try Self.scratchFile("hang.json")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(Self.hangTrace.utf8).write(to: file)
        let line = ["--cmdline", "svm=on swiotlb=128,1,force console=hvc0", "--dma-replay", file.path]
        let r = try await FDTCLIRunner.run(["boot", "--linux", "6.1"] + line + Self.small)
        #expect(r.status == 1, "\(r.stderr)")
        let o = try Self.json(r)
        let hang = try #require(o["hang"] as? [String: Any], "\(o.keys.sorted())")
        #expect(hang["function"] as? String == "swiotlb_do_find_slots")
        #expect(hang["series"] as? String == "6.1")
        #expect((hang["fix"] as? String)?.contains("7c3940bf81e5") == true)
        #expect(hang["size"] as? Int == 4096 && hang["minAlignMask"] as? Int == 0xfff && hang["allocAlignMask"] as? Int == 0)
        #expect(r.stderr.contains("the kernel stopped at op 188: hung"), "\(r.stderr)")
        let console = try await FDTCLIRunner.run(["boot", "--linux", "6.1"] + line)
        #expect(console.status == 1)
        #expect(String(decoding: console.stdout, as: UTF8.self).contains("HANG         Linux 6.1 hangs in swiotlb_do_find_slots()"))
        // 6.12 fails that map cleanly: no hang.
        let twelve = try Self.json(try await FDTCLIRunner.run(["boot", "--linux", "6.12"] + line + Self.small))
        #expect(twelve["hang"] is NSNull)
    }

    @Test("5.10 hangs on the same stream in its own find_slots(): the report names 5.10 and find_slots, not 6.1")
    func fiveTenHang() async throws {
        // 5.10.265's find_slots() has 6.1's unbounded scan (the recorded 5.10 answers hang);
        // the report used to say "Linux 6.1 hangs in swiotlb_do_find_slots()" for a 5.10 guest.
        let (dir, file) = try Self.scratchFile("hang.json")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(Self.hangTrace.utf8).write(to: file)
        let r = try await FDTCLIRunner.run(
            ["boot", "--linux", "5.10", "--cmdline", "svm=on swiotlb=128,force console=hvc0", "--dma-replay", file.path] + Self.small)
        #expect(r.status == 1, "\(r.stderr)")
        let hang = try #require(try Self.json(r)["hang"] as? [String: Any])
        #expect(hang["series"] as? String == "5.10" && hang["function"] as? String == "find_slots", "\(hang)")
        #expect(r.stderr.contains("hung: CPU 0 spins in find_slots()"), "\(r.stderr)")
    }

    @Test("--dma-replay refuses an op dma_map_single() cannot express, naming the file and op (exit 2)")
    func dmaReplayBadInput() async throws {
        let (dir, file) = try Self.scratchFile("aligned.json")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"pool": {"start": 0, "nslabs": 128}, "ops": [{"op": "map", "id": 1, "orig_addr": 65536, "size": 2048, "alloc_align_mask": 4095}]}"#.utf8).write(to: file)
        let r = try await FDTCLIRunner.run(["boot", "--dma-replay", file.path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--dma-replay \(file.path): op 0 has an alloc_align_mask"), "\(r.stderr)")
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
