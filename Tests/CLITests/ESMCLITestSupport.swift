import Foundation
import ProcessTestSupport
import Testing

/// Runs the built `svmkit` binary for the ESM CLI tests.
enum ESMCLIHarness {
    /// The `svmkit` executable next to the test bundle.
    static let executable: URL? = {
        let fm = FileManager.default
        var dirs = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        if let arg0 = CommandLine.arguments.first { dirs.append(URL(fileURLWithPath: arg0).deletingLastPathComponent()) }
        for d in dirs {
            let candidate = d.appendingPathComponent("svmkit")
            if fm.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: Data
    }

    /// Runs `svmkit <arguments>` in `directory`.
    static func run(_ arguments: [String], in directory: URL) async throws -> Result {
        let exe = try #require(executable, "the svmkit executable was not found next to the test bundle")
        let r = try await ChildProcess.run(exe.path, arguments, directory: directory.path)
        return Result(status: r.status, stdout: r.stdoutText, stderr: r.stderrText, stdoutBytes: Data(r.stdout))
    }

    /// A new empty directory.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-esm-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to `name` in `dir`.
    static func write(_ bytes: [UInt8], _ name: String, in dir: URL) throws {
        try Data(bytes).write(to: dir.appendingPathComponent(name))
    }

    /// Reads `name` in `dir`.
    static func read(_ name: String, in dir: URL) throws -> [UInt8] {
        Array(try Data(contentsOf: dir.appendingPathComponent(name)))
    }
}
