import Foundation
import Testing

/// `svmkit faults walk` and `svmkit faults merge` (issue 21), run as a user runs them.
@Suite("svmkit faults")
struct FaultsCommandTests {
    static let walk = "\"$SVMKIT\" faults walk --memory 256M --cpus 1 --phases io --quiet"

    @Test("The copy-on-write engine and the replay engine give the same report; three shards merge into it")
    func forkEqualsReplayAndShardsMerge() async throws {
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fork = try await CLIShell.run("\(Self.walk) --jobs 2 --json -o fork.json", in: dir)
        let replay = try await CLIShell.run("\(Self.walk) --jobs 2 --engine replay --json -o replay.json", in: dir)
        #expect(!fork.signalled && !replay.signalled)
        #expect(fork.status == replay.status, "\(fork.stderr) \(replay.stderr)")
        #expect([0, 1].contains(fork.status), "\(fork.stderr)")
        let a = try Data(contentsOf: dir.appendingPathComponent("fork.json"))
        let b = try Data(contentsOf: dir.appendingPathComponent("replay.json"))
        #expect(a == b)
        for k in 1...3 {
            let r = try await CLIShell.run("\(Self.walk) --jobs 2 --shard \(k)/3 --json -o s\(k).json", in: dir)
            #expect(!r.signalled && [0, 1].contains(r.status), "\(r.stderr)")
        }
        let merged = try await CLIShell.run("\"$SVMKIT\" faults merge s3.json s1.json s2.json --json -o merged.json", in: dir)
        #expect(merged.status == fork.status, "\(merged.stderr)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("merged.json")) == a)
        let table = try await CLIShell.run("\"$SVMKIT\" faults merge s1.json s2.json s3.json", in: dir)
        #expect(table.stdout.contains("call sites"), "\(table.stdout)")
        #expect(table.stdout.contains("io/guest:UV_SHARE_PAGE"), "\(table.stdout)")
    }

    @Test("Bad input exits 2 naming it: --shard, --phases, --jobs, a missing shard, a file that is not a report")
    func badInput() async throws {
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (args, named) in [("--shard 0/3", "--shard 0/3"), ("--shard 4/3", "--shard 4/3"), ("--phases boot,dma", "--phases"),
            ("--jobs 0", "--jobs"), ("--engine magic", "--engine")]
        {
            let r = try await CLIShell.run("\(Self.walk) \(args)", in: dir)
            #expect(r.status == 2, "\(args): \(r.summary) \(r.stderr)")
            #expect(r.stderr.contains("svmkit faults walk: \(named)"), "\(args): \(r.stderr)")
        }
        _ = try await CLIShell.run("\(Self.walk) --shard 1/2 --json -o half.json; echo not json > junk.json", in: dir)
        let missing = try await CLIShell.run("\"$SVMKIT\" faults merge half.json", in: dir)
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("a shard is missing"), "\(missing.stderr)")
        let junk = try await CLIShell.run("\"$SVMKIT\" faults merge half.json junk.json", in: dir)
        #expect(junk.status == 2, "\(junk.stderr)")
        #expect(junk.stderr.contains("junk.json"), "\(junk.stderr)")
        let twice = try await CLIShell.run("\"$SVMKIT\" faults merge half.json half.json", in: dir)
        #expect(twice.status == 2, "\(twice.stderr)")
    }
}
