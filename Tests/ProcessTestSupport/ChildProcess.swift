import Foundation
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The one way tests start a program and wait for it (DeviceTreeTests' `dtc`, the CLI
/// and example binaries, the Linux oracle, cpio, the shell scripts), on
/// swift-subprocess. Standard output and standard error go through temporary files,
/// not pipes, so a daemon the program leaves behind (Scripts/swtpm-provision starts
/// swtpm) cannot keep the run waiting for end-of-file.
///
/// At most one child per processor runs at once (``ChildProcessSlots``), as when each
/// waiting test held a thread.
///
/// The long-lived swtpm of `SwtpmTestSupport` is the exception: Subprocess 1.0.2 ties a
/// child to the closure that runs it, while swtpm must outlive the synchronous call that
/// starts it and be signalled and stopped from synchronous test code (`SwtpmProcess`).
package enum ChildProcess {
    /// What a program wrote, and how it ended.
    package struct Result: Sendable {
        /// The exit status, or the signal number when ``signalled``.
        package var status: Int32
        /// Whether a signal ended it (a trap, an abort, SIGPIPE…).
        package var signalled: Bool
        /// Its standard output.
        package var stdout: [UInt8]
        /// Its standard error (or nothing, when merged into ``stdout``).
        package var stderr: [UInt8]

        /// ``stdout`` as UTF-8 text.
        package var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// ``stderr`` as UTF-8 text.
        package var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        /// e.g. `exit 2`, `signal 4`.
        package var summary: String { signalled ? "signal \(status)" : "exit \(status)" }
        /// Whether it exited with status 0.
        package var succeeded: Bool { !signalled && status == 0 }
    }

    /// The program could not be started, or its output not read back.
    package struct LaunchError: Error, CustomStringConvertible {
        /// The program and what went wrong.
        package let description: String
    }

    /// Runs `executable` (a path, or a name looked up on `PATH`) with `arguments` and
    /// waits for it.
    ///
    /// - Parameters:
    ///   - input: its standard input; `nil` gives it /dev/null.
    ///   - directory: its working directory (the test runner's when nil).
    ///   - environment: variables set on top of the test runner's environment.
    ///   - mergingErrorIntoOutput: send standard error to the same file as standard
    ///     output, interleaved as written (``Result/stderr`` is then empty).
    package static func run(
        _ executable: String, _ arguments: [String] = [], input: [UInt8]? = nil, directory: String? = nil,
        environment: [String: String] = [:], mergingErrorIntoOutput: Bool = false
    ) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path
        let inPath = scratch.appendingPathComponent("stdin").path
        try Data(input ?? []).write(to: URL(fileURLWithPath: inPath))

        let out = try FileDescriptor.open(
            FilePath(outPath), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let err = try FileDescriptor.open(
            FilePath(errPath), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let stdin = try FileDescriptor.open(FilePath(inPath), .readOnly)
        // Subprocess closes the descriptors once the child has them.
        let program: Executable = executable.contains("/") ? .path(FilePath(executable)) : .name(executable)
        var variables: [Environment.Key: String?] = [:]
        for (key, value) in environment { variables[Environment.Key(stringLiteral: key)] = value }
        await ChildProcessSlots.shared.acquire()
        defer { ChildProcessSlots.shared.release() }
        let status: TerminationStatus
        do {
            if mergingErrorIntoOutput {
                try err.close()
                status = try await Subprocess.run(
                    program, arguments: Arguments(arguments), environment: .inherit.updating(variables),
                    workingDirectory: directory.map { FilePath($0) },
                    input: .fileDescriptor(stdin, closeAfterSpawningProcess: true),
                    output: .fileDescriptor(out, closeAfterSpawningProcess: true), error: .combinedWithOutput
                ).terminationStatus
            } else {
                status = try await Subprocess.run(
                    program, arguments: Arguments(arguments), environment: .inherit.updating(variables),
                    workingDirectory: directory.map { FilePath($0) },
                    input: .fileDescriptor(stdin, closeAfterSpawningProcess: true),
                    output: .fileDescriptor(out, closeAfterSpawningProcess: true),
                    error: .fileDescriptor(err, closeAfterSpawningProcess: true)
                ).terminationStatus
            }
        } catch {
            throw LaunchError(description: "\(executable) \(arguments.joined(separator: " ")): \(error)")
        }
        let code: Int32, signalled: Bool
        switch status {
        case .exited(let c): (code, signalled) = (c, false)
        case .signaled(let s): (code, signalled) = (s, true)
        }
        return Result(
            status: code, signalled: signalled, stdout: Array(try Data(contentsOf: URL(fileURLWithPath: outPath))),
            stderr: mergingErrorIntoOutput ? [] : Array(try Data(contentsOf: URL(fileURLWithPath: errPath))))
    }
}
