import ESM
import Foundation
import ProcessTestSupport
import SwtpmTestSupport
import TPM
import Testing

#if canImport(Glibc)
/// Whether tpm2-tools (which the script uses) is installed.
let tpm2ToolsInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tpm2_createprimary")

/// `Scripts/swtpm-provision` (swtpm + tpm2-tools) provisions a key SVMKit can use: its
/// files load (the Name matches the PEM under SVMKit's template, so the two templates
/// are byte-identical), its policy digests are TPMPolicy's, and the Ultravisor's
/// sequence opens a lockbox made for its PEM. `--stop` stops swtpm.
// The hang guard counts the wait for a ChildProcess slot too (the test no longer waits
// for a runner thread before it starts), so it is longer than the runs need.
@Suite(
    "Scripts/swtpm-provision", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")),
    .enabled(if: tpm2ToolsInstalled, "tpm2-tools is not installed (Scripts/bootstrap tpm2-tools)"))
struct SwtpmProvisionScriptTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/swtpm-provision")

    /// Runs the script; returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, String) {
        // Output goes to a file (ChildProcess's way), not a pipe: the swtpm the script
        // leaves running keeps its copy of the descriptor open.
        let r = try await ChildProcess.run(script.path, arguments, environment: environment, mergingErrorIntoOutput: true)
        return (r.status, r.stdoutText)
    }

    @Test("Provision with the script, load its files, unwrap lockbox-1 through swtpm, stop")
    func provisionAndUnwrap() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-swtpm-provision-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try #require(freeLoopbackPortPair())
        let (status, output) = try await Self.run([dir.path, "\(port)"], environment: ["SVMKIT_TPM_KEY_PASSWORD": "script-passwd"])
        do {
            try await Self.useAndStop(dir: dir, port: port, status: status, output: output)
        } catch {
            // A defer cannot await: stop the script's swtpm here when the checks failed early.
            _ = try? await Self.run(["--stop", dir.path])
            throw error
        }
    }

    /// The checks of ``provisionAndUnwrap()`` once the script ran: load its files, unwrap
    /// through its swtpm, then `--stop` it.
    static func useAndStop(dir: URL, port: UInt16, status: Int32, output: String) async throws {
        try #require(status == 0, "\(output)")
        #expect(output.contains("svmkit boot --tpm swtpm:127.0.0.1:\(port)"))

        let key = try TPMProvisionedKey.load(directory: dir.path)
        #expect(key.configuration.handle == TPMHandle.wrappingKey)
        #expect(key.configuration.password == Array("script-passwd".utf8) + [0])
        #expect(key.configuration.policyA == TPMPolicy.rsaDecryptWithAuthValue)
        #expect(key.configuration.policyB == TPMPolicy.objectChangeAuthWithAuthValue)

        let backend = try SwtpmBackend(spec: "swtpm:127.0.0.1:\(port)")
        let pub = try TPMClient(transport: { try backend.execute($0) }).readPublic(TPMHandle.wrappingKey)
        var r = TPMReader(pub.publicArea)
        #expect(try TPMRSAPublicArea(unmarshalling: &r) == key.publicArea, "the script's template must be SVMKit's")

        let (_, master, wrapped) = try SwtpmSequenceTests.blob(for: key.publicKeyPEM)
        #expect(try TPMLockboxUnwrapper(configuration: key.configuration).unwrap(wrapped, transport: { try backend.execute($0) }) == master.bytes)
        backend.close()

        let (stopStatus, stopOutput) = try await Self.run(["--stop", dir.path])
        #expect(stopStatus == 0, "\(stopOutput)")
        #expect(throws: SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(port)")) { try backend.send(getRandomCommand) }
    }

    @Test("Bad arguments are refused with usage")
    func badArguments() async throws {
        #expect(try await Self.run([]).0 == 2)
        let (status, output) = try await Self.run(["/tmp/x", "70000"])
        #expect(status != 0 && output.contains("70000"))
    }
}
#endif
