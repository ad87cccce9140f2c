import Foundation
import SwtpmTestSupport
import Testing

/// `svmkit boot --tpm`: the options' errors, which need no swtpm.
@Suite("svmkit boot --tpm: input errors")
struct TPMOptionTests {
    @Test("Bad --tpm/--tpm-dir/--tpm-key combinations exit 2 naming the input", arguments: [
        (["--tpm", "swtpm:example.org:2321", "--tpm-dir", "/tmp"], "--tpm swtpm:example.org:2321: swtpm host"),
        (["--tpm", "swtpm:127.0.0.1"], "--tpm swtpm:127.0.0.1: 'swtpm:127.0.0.1' has no port"),
        (["--tpm", "tpm0"], "--tpm tpm0: expected embedded or swtpm:HOST:PORT"),
        (["--tpm", "swtpm:127.0.0.1:2321"], "--tpm swtpm:127.0.0.1:2321: needs --tpm-dir DIR"),
        (["--tpm", "swtpm:127.0.0.1:2321", "--tpm-dir", "/nonexistent/tpm"], "--tpm-dir /nonexistent/tpm: no such directory"),
        (["--tpm", "swtpm:127.0.0.1:2321", "--tpm-dir", "/"], "--tpm-dir /: invalid wrapping-key configuration: cannot read /wrapping-key.json"),
        (["--tpm-dir", "/tmp"], "--tpm-dir /tmp: only used with --tpm swtpm:HOST:PORT"),
        (["--tpm", "swtpm:127.0.0.1:2321", "--tpm-dir", "/tmp", "--tpm-key", "k.pem"], "--tpm-key k.pem: cannot be used with --tpm swtpm:127.0.0.1:2321"),
    ])
    func badInput(arguments: [String], message: String) async throws {
        let r = try await FDTCLIRunner.run(["boot"] + arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains("svmkit boot: " + message), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test("--help describes --tpm and --tpm-dir with an example")
    func help() async throws {
        let r = try await FDTCLIRunner.run(["boot", "--help"])
        #expect(r.status == 0)
        for text in ["--tpm <embedded|swtpm:HOST:PORT>", "--tpm-dir <DIR>", "svmkit boot --tpm swtpm:127.0.0.1:2321 --tpm-dir /tmp/tpm",
            "Scripts/swtpm-provision"]
        {
            #expect(r.text.contains(text), "missing \(text)")
        }
    }
}

#if canImport(Glibc)
/// `svmkit boot --tpm swtpm:127.0.0.1:PORT --tpm-dir DIR` against a real swtpm.
/// Skipped, with the reason, where swtpm is not installed or cannot start.
// The hang guard counts the wait for a ChildProcess slot too (the test no longer waits
// for a runner thread before it starts), so it is longer than the runs need.
@Suite(
    "svmkit boot --tpm swtpm", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")))
struct SwtpmBootCommandTests {
    @Test("Key in swtpm: exit 0 and secure; with swtpm gone: exit 1, lockbox-1 and H_RESOURCE named, the cause on stderr")
    func bootThenStop() async throws {
        let swtpm = try SwtpmProcess()
        defer { swtpm.stop() }
        _ = try swtpm.provisionKey()
        let arguments = ["boot", "--tpm", swtpm.spec, "--tpm-dir", swtpm.stateDirectory.path, "--memory", "1G", "--cpus", "2", "--json"]

        let r = try await FDTCLIRunner.run(arguments)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(o["secure"] as? Bool == true)
        #expect(o["esmResult"] as? Int == 0)
        let checks = try #require(o["esmChecks"] as? [[String: Any]])
        #expect(checks.contains { $0["check"] as? String == "lockbox-1" && $0["passed"] as? Bool == true })
        #expect((o["calls"] as? [String: Int])?["H_TPM_COMM"] ?? 0 >= 7)

        swtpm.kill9()
        let gone = try await FDTCLIRunner.run(arguments + ["--tpm-timeout", "2"])
        #expect(gone.status == 1)
        let g = try #require(try JSONSerialization.jsonObject(with: Data(gone.stdout)) as? [String: Any])
        #expect(g["secure"] as? Bool == false)
        #expect(g["osTerm"] as? String == "Switch to secure mode failed.")
        let failure = g["esmFailure"] as? String ?? ""
        #expect(failure.contains("lockbox-1") && failure.contains("H_RESOURCE"), "\(failure)")
        #expect(gone.stderr.contains("svmkit boot: TPM \(swtpm.spec): swtpm at 127.0.0.1:\(swtpm.port): connection refused"), "\(gone.stderr)")
        // The cause is in --json too (issue 19).
        #expect((g["tpmFailure"] as? String)?.contains("connection refused") == true, "\(g["tpmFailure"] ?? "nil")")
    }
}
#endif
