import Foundation
import ProcessTestSupport
import Testing

/// Runs shell command lines against the built `svmkit` binary (found as
/// ``FDTCLIRunner/binary()`` finds it; nothing is built here): `$SVMKIT` is its path,
/// so a test can close or redirect the standard streams as a user's shell would
/// (`"$SVMKIT" fdt dump - <&-`).
enum CLIShell {
    /// How one command line ended.
    struct Result {
        /// The exit status, or the signal number when ``signalled``.
        var status: Int32
        /// Whether a signal ended it (a trap, an abort, SIGPIPE…).
        var signalled: Bool
        var stdout: String
        var stderr: String
        /// e.g. `exit 2`, `signal 4`.
        var summary: String { signalled ? "signal \(status)" : "exit \(status)" }
    }

    /// Runs `script` with `/bin/sh -c` in `directory` (a fresh one if nil), standard
    /// input from /dev/null unless the script redirects it.
    /// `arguments` are the script's `$@`.
    static func run(
        _ script: String, in directory: URL? = nil, arguments: [String] = [], environment extra: [String: String] = [:]
    ) async throws -> Result {
        let dir = try directory ?? scratch()
        defer { if directory == nil { try? FileManager.default.removeItem(at: dir) } }
        var env = ["SVMKIT": try FDTCLIRunner.binary().path, "SWIFT_BACKTRACE": "enable=no"]
        for (k, v) in extra { env[k] = v }
        let r = try await ChildProcess.run(
            "/bin/sh", ["-c", script, "svmkit"] + arguments, directory: dir.path, environment: env)
        return Result(status: r.status, signalled: r.signalled, stdout: r.stdoutText, stderr: r.stderrText)
    }

    /// A new empty directory.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-shell-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// `text` quoted for the shell.
    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
