import Foundation
import Testing

/// `--swiotlb-trace FILE` on `svmkit boot` and `svmkit soak` writes the kernel's
/// SWIOTLB maps and unmaps in the replay format, and `svmkit swiotlb advise` answers
/// on it (issue 18 item 4).
@Suite("--swiotlb-trace")
struct SWIOTLBTraceCommandTests {
    /// The advise rows of a trace file, one per scenario.
    static func advise(_ path: String) async throws -> [[String: Any]] {
        let r = try await FDTCLIRunner.run(["swiotlb", "advise", path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        if let rows = object["scenarios"] as? [[String: Any]] { return rows }
        return [object]
    }

    @Test("a boot's trace (one block round trip) is advised: the smallest pool holds the round trip's mappings")
    func bootTrace() async throws {
        let file = FDTCLIRunner.temporary(".json")
        defer { try? FileManager.default.removeItem(at: file) }
        let boot = try await FDTCLIRunner.run(
            ["boot", "--memory", "256M", "--cpus", "2", "--swiotlb-dynamic", "--swiotlb-trace", file.path, "--json"])
        #expect(boot.status == 0, "\(boot.stderr)")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(text.contains("\"op\": \"map\"") && text.contains("\"op\": \"unmap\""))
        let rows = try await Self.advise(file.path)
        #expect(rows.count == 1)
        let minimum = try #require(rows.first?["minimumSlots"] as? Int)
        #expect(minimum >= 32, "a 64 KiB transfer needs 32 slots at once")
        #expect((rows.first?["swiotlbParameter"] as? String)?.isEmpty == false)
    }

    @Test("--swiotlb-dynamic on a series without CONFIG_SWIOTLB_DYNAMIC exits 2 naming it, on boot and soak")
    func dynamicNeedsSixSix() async throws {
        for command in [["boot"], ["soak", "--operations", "10"]] {
            let r = try await FDTCLIRunner.run(command + ["--linux", "6.1", "--swiotlb-dynamic"])
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("--swiotlb-dynamic: Linux 6.1 has no CONFIG_SWIOTLB_DYNAMIC"), "\(r.stderr)")
        }
    }

    @Test("a soak's trace has one scenario per kernel, each advised")
    func soakTrace() async throws {
        let file = FDTCLIRunner.temporary(".json")
        defer { try? FileManager.default.removeItem(at: file) }
        let soak = try await FDTCLIRunner.run(
            ["soak", "--operations", "40", "--cpus", "2", "--memory", "512M", "--ops-per-cycle", "10",
             "--swiotlb-trace", file.path])
        #expect(soak.status == 0, "\(soak.stderr)")
        let rows = try await Self.advise(file.path)
        #expect(rows.count >= 2, "the first kernel and at least one after kexec")
        #expect(rows.allSatisfy { ($0["minimumSlots"] as? Int).map { $0 > 0 } == true })
    }
}
