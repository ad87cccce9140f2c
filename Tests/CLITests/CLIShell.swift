import Foundation
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
    ) throws -> Result {
        let dir = try directory ?? scratch()
        let out = FDTCLIRunner.temporary(".out"), err = FDTCLIRunner.temporary(".err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
            if directory == nil { try? FileManager.default.removeItem(at: dir) }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script, "svmkit"] + arguments
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["SVMKIT"] = try FDTCLIRunner.binary().path
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        p.standardInput = FileHandle.nullDevice
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        p.standardOutput = outHandle
        p.standardError = errHandle
        try p.run()
        p.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return Result(
            status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
            stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
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
