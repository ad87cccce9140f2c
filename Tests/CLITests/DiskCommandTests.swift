import Foundation
import Testing

/// `--disk virtio|nvme` on `svmkit boot` and `svmkit soak` through the built binary:
/// the JSON key `disk`, the NVMe round trip, the boot's warning on 6.1, and a soak
/// that finds 6.1's endless slot search by itself (and passes on 6.12).
@Suite("svmkit boot and soak --disk")
struct DiskCommandTests {
    static func json(_ r: FDTCLIRunner.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
    }

    static let small = ["--memory", "1G", "--cpus", "2", "--json"]

    /// One vCPU, a 1 MiB pool: deterministic, and the third seed's direct read at page
    /// offset 0x800 reaches the hang in cycle 4 (operation 301) on 6.1.
    static func soak(_ linux: String) -> [String] {
        [
            "soak", "--linux", linux, "--disk", "nvme", "--cpus", "1", "--memory", "512M", "--seed", "3",
            "--operations", "320", "--cmdline", "svm=on swiotlb=512,force console=hvc0", "--json",
        ]
    }

    @Test("boot --disk nvme with swiotlb=force round-trips intact on 6.12 and 6.1; JSON disk nvme; only 6.1 is warned about its slot search", arguments: ["6.12", "6.1"])
    func bootNVMe(linux: String) async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", linux, "--disk", "nvme"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.json(r)
        #expect(o["disk"] as? String == "nvme")
        #expect(o["linux"] as? String == linux)
        let check = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(check["passed"] as? Bool == true, "\(check)")
        #expect((check["detail"] as? String)?.contains("min_align_mask 0xfff") == true, "\(check)")
        #expect(o["hang"] is NSNull)
        let log = (o["kernelLog"] as? [String] ?? []).joined(separator: "\n")
        #expect(log.contains("min_align_mask 0xfff, max_hw_sectors 504"), "\(log)")
        let warned = r.stderr.contains("swiotlb_do_find_slots") && r.stderr.contains("7c3940bf81e5")
            && r.stderr.contains("--disk nvme")
        #expect(warned == (linux == "6.1"), "\(r.stderr)")
    }

    @Test("boot without --disk reports disk virtio and prints no slot-search warning, on 6.1 too")
    func bootDefault() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--linux", "6.1"] + Self.small)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.json(r)["disk"] as? String == "virtio")
        #expect(!r.stderr.contains("swiotlb_do_find_slots"), "\(r.stderr)")
    }

    @Test("soak --linux 6.1 --disk nvme finds the endless slot search: exit 1, the hang names the request, the op and the fix")
    func soakHangs() async throws {
        let r = try await FDTCLIRunner.run(Self.soak("6.1"))
        #expect(r.status == 1, "\(r.stderr)")
        let o = try Self.json(r)
        #expect(o["disk"] as? String == "nvme" && o["linux"] as? String == "6.1")
        let hang = try #require(o["hang"] as? [String: Any])
        #expect(hang["function"] as? String == "swiotlb_do_find_slots")
        #expect((hang["fix"] as? String)?.contains("7c3940bf81e5") == true)
        #expect(hang["minAlignMask"] as? Int == 0xfff)
        let failures = try #require(o["failures"] as? [[String: Any]])
        let first = try #require(failures.first)
        #expect(first["kind"] as? String == "hang")
        #expect(first["operationKind"] as? String == "block-read")
        #expect(first["operation"] as? Int == 301)
        #expect(r.stderr.contains("FAILED: hang:"), "\(r.stderr)")
        #expect(r.stderr.contains("7c3940bf81e5"), "\(r.stderr)")
        #expect(r.stderr.contains("--linux 6.1 --disk nvme --cmdline 'svm=on swiotlb=512,force console=hvc0'"), "reproduction line: \(r.stderr)")
    }

    @Test("The same soak on 6.12 passes: exit 0, disk nvme, no hang")
    func soakPassesOn612() async throws {
        let r = try await FDTCLIRunner.run(Self.soak("6.12"))
        #expect(r.status == 0, "\(r.stderr)")
        let o = try Self.json(r)
        #expect(o["disk"] as? String == "nvme" && o["linux"] as? String == "6.12")
        #expect(o["hang"] == nil || o["hang"] is NSNull)
        #expect((o["failures"] as? [Any])?.isEmpty == true)
        #expect(o["totalOperations"] as? Int == 320)
    }

    @Test("Bad --disk (boot, soak) and a soak --cmdline without svm=on exit 2 naming the option", arguments: [
        (["boot", "--disk", "scsi"], "--disk scsi"),
        (["soak", "--disk", "nvm", "--operations", "1"], "--disk nvm"),
        (["soak", "--cmdline", "svm=off swiotlb=force", "--operations", "1"], "--cmdline"),
    ])
    func badInput(arguments: [String], option: String) async throws {
        let r = try await FDTCLIRunner.run(arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains(option), "\(r.stderr)")
    }
}
