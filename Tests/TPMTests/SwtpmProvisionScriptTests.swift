import ESM
import Foundation
import TPM
import Testing

#if canImport(Glibc)
/// Whether tpm2-tools (which the script uses) is installed.
let tpm2ToolsInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/tpm2_createprimary")

/// `Scripts/swtpm-provision` (swtpm + tpm2-tools) provisions a key SVMKit can use: its
/// files load (the Name matches the PEM under SVMKit's template, so the two templates
/// are byte-identical), its policy digests are TPMPolicy's, and the Ultravisor's
/// sequence opens a lockbox made for its PEM. `--stop` stops swtpm.
@Suite(
    "Scripts/swtpm-provision", .serialized, .timeLimit(.minutes(1)),
    .enabled(if: SwtpmProcess.isUsable, Comment(rawValue: SwtpmProcess.skipReason ?? "swtpm is usable")),
    .enabled(if: tpm2ToolsInstalled, "tpm2-tools is not installed (Scripts/bootstrap tpm2-tools)"))
struct SwtpmProvisionScriptTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/swtpm-provision")

    /// Runs the script; returns its exit status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = script
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // A file, not a pipe: a daemon that kept the pipe open would make reading it hang.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("swtpm-provision-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))
    }

    @Test("Provision with the script, load its files, unwrap lockbox-1 through swtpm, stop")
    func provisionAndUnwrap() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-swtpm-provision-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try #require(freeLoopbackPortPair())
        let (status, output) = try Self.run([dir.path, "\(port)"], environment: ["SVMKIT_TPM_KEY_PASSWORD": "script-passwd"])
        defer { _ = try? Self.run(["--stop", dir.path]) }
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

        let (stopStatus, stopOutput) = try Self.run(["--stop", dir.path])
        #expect(stopStatus == 0, "\(stopOutput)")
        #expect(throws: SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(port)")) { try backend.send(getRandomCommand) }
    }

    @Test("Bad arguments are refused with usage")
    func badArguments() throws {
        #expect(try Self.run([]).0 == 2)
        let (status, output) = try Self.run(["/tmp/x", "70000"])
        #expect(status != 0 && output.contains("70000"))
    }
}
#endif
