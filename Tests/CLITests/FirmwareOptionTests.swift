import Foundation
import Testing

/// `--firmware`, `--hv-touch` and `--esm-check` on `svmkit boot` and `svmkit soak`
/// (issue 15 items 1 and 7), through the built binary.
@Suite("svmkit boot/soak --firmware, --hv-touch, --esm-check")
struct FirmwareOptionTests {
    static let small = ["--memory", "256M", "--cpus", "2"]

    @Test("--bug skip-bounce-pool-share: by default the disk gets ciphertext and a diagnosis names the pool; --hv-touch stop stops")
    func hvTouch() async throws {
        let r = try await FDTCLIRunner.run(["boot"] + Self.small + ["--bug", "skip-bounce-pool-share", "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        let block = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(block["corrupted"] as? Bool == true)
        let d = try #require((o["diagnoses"] as? [[String: Any]])?.first)
        #expect(d["owner"] as? String == "swiotlb")
        #expect((d["cause"] as? String)?.hasPrefix("the SWIOTLB pool was never shared") == true)
        #expect(((o["calls"] as? [String: Int])?["UV_PAGE_OUT"] ?? 0) >= 1)
        let s = try await FDTCLIRunner.run(["boot"] + Self.small + ["--bug", "skip-bounce-pool-share", "--hv-touch", "stop", "--json"])
        #expect(s.status == 1)
        let so = try #require(try JSONSerialization.jsonObject(with: Data(s.stdout)) as? [String: Any])
        #expect((so["blockDeviceCheck"] as? [String: Any])?["corrupted"] as? Bool == false)
        #expect((so["isolationViolations"] as? Int ?? 0) >= 1)
        #expect(((so["diagnoses"] as? [[String: Any]])?.first?["handling"] as? String) == "stop")
        let console = try await FDTCLIRunner.run(["boot"] + Self.small + ["--bug", "skip-lppaca-share"])
        #expect(console.text.contains("DIAGNOSIS") && console.text.contains("owner lppaca"))
    }

    /// (Which ESM policy each profile takes is tested through the library in
    /// HypervisorTouchBootTests.esmCheckDefaults: a boot whose blob SVMKit makes always
    /// passes its checks.)
    @Test("--firmware open-power boots secure; bad --firmware, --hv-touch, --esm-check values exit 2 naming the option")
    func firmware() async throws {
        let open = try await FDTCLIRunner.run(["boot"] + Self.small + ["--firmware", "open-power", "--esm-check", "enforce", "--json"])
        let o = try #require(try JSONSerialization.jsonObject(with: Data(open.stdout)) as? [String: Any])
        #expect(o["secure"] as? Bool == true, "\(open.stderr)")
        for (option, value) in [("--firmware", "ibm"), ("--hv-touch", "ignore"), ("--esm-check", "maybe")] {
            let bad = try await FDTCLIRunner.run(["boot", option, value])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("\(option) \(value)"), "\(bad.stderr)")
            let soak = try await FDTCLIRunner.run(["soak", "--operations", "1", option, value])
            #expect(soak.status == 2)
            #expect(soak.stderr.contains("svmkit soak: \(option) \(value)"), "\(soak.stderr)")
        }
    }

    @Test("soak takes --firmware and --hv-touch")
    func soak() async throws {
        let r = try await FDTCLIRunner.run(
            ["soak", "--operations", "40", "--cpus", "2", "--memory", "256M", "--firmware", "documented", "--hv-touch", "stop", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
