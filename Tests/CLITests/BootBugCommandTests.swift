import Foundation
import Testing

/// `svmkit boot --bug NAME` through the built binary (issue 8 item 4): each buggy guest
/// is caught, the culprit is named, and the run exits 1.
@Suite("svmkit boot --bug: buggy guests are caught and named")
struct BootBugCommandTests {
    static let culprits: [(bug: String, culprit: String)] = [
        ("skip-lppaca-share", "alloc_shared_lppaca() did not share it"),
        ("skip-dtl-share", "dtl_cache_ctor() did not share it"),
        ("skip-bounce-pool-share", "swiotlb_update_mem_attributes() did not share it"),
        ("touch-implicit-page", "the guest touched a page the Ultravisor shared implicitly"),
        ("unshare-bounce-page-while-mapped", "unshared it while the hypervisor still used it"),
        ("double-unmap", "double unmap"),
        ("sync-past-mapping-end", "past the end of the mapping"),
    ]

    @Test("Each --bug exits 1 with the culprit in the JSON", arguments: culprits)
    func caught(bug: String, culprit: String) async throws {
        let r = try await FDTCLIRunner.run(["boot", "--memory", "256M", "--cpus", "2", "--bug", bug, "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(o["bugs"] as? [String] == [bug])
        let faults = try #require(o["guestFaults"] as? [String])
        #expect(faults.contains { $0.contains(culprit) }, "\(faults)")
        let invariants = try #require(o["invariantFailures"] as? [String])
        #expect(!invariants.contains { $0.hasPrefix("isolation") }, "tolerated for a buggy guest: \(invariants)")
    }

    @Test("The console names the bug and the culprit; two bugs at once are both caught")
    func console() async throws {
        let r = try await FDTCLIRunner.run([
            "boot", "--memory", "256M", "--cpus", "2", "--bug", "skip-lppaca-share", "--bug", "double-unmap",
        ])
        #expect(r.status == 1)
        #expect(r.text.contains("bugs         double-unmap, skip-lppaca-share"))
        #expect(r.text.contains("CULPRIT      isolation violation"))
        #expect(r.text.contains("alloc_shared_lppaca() did not share it"))
        #expect(r.text.contains("double unmap"))
        #expect(r.text.contains("block I/O"))
    }

    @Test("--help lists every bug name; an unknown one exits 2 naming --bug")
    func help() async throws {
        let h = try await FDTCLIRunner.run(["boot", "--help"])
        #expect(h.status == 0)
        let text = h.text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ")
        for (bug, _) in Self.culprits { #expect(text.contains(bug), "\(bug) missing from --help") }
        let bad = try await FDTCLIRunner.run(["boot", "--bug", "forget-everything"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--bug forget-everything"))
    }

    /// The pool's share is the guest's third (link order: LPPACA, DTL, pool). Linux
    /// ignores its status (`svm.c: set_memory_decrypted (6.12)`); this test used to
    /// expect SVMKit's own "could not share" fault at the second share, and now expects
    /// the diagnosis of the ignored status.
    @Test("A --faults failure the guest reports exits 1 with the failed call named; the invariants still hold")
    func injectedFault() async throws {
        let r = try await FDTCLIRunner.run([
            "boot", "--memory", "256M", "--cpus", "2", "--faults", "guest:UV_SHARE_PAGE@3=U_P2", "--json",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(o["secure"] as? Bool == true)
        let faults = try #require(o["guestFaults"] as? [String])
        #expect(faults.contains { $0.contains("swiotlb_update_mem_attributes ignored UV_SHARE_PAGE's U_P2") })
        #expect(o["invariantFailures"] as? [String] == [])
    }

    @Test("A clean boot still exits 0, reports no guest fault, and its block round trip passes")
    func clean() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--memory", "256M", "--cpus", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(o["guestFaults"] as? [String] == [])
        #expect(o["bugs"] as? [String] == [])
        let check = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(check["passed"] as? Bool == true && check["corrupted"] as? Bool == false, "\(check)")
    }
}
