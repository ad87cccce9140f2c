import ArgumentParser

/// The exit-code contract of every `svmkit` command:
///
/// | code | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | the job ran and found a failure (a failed check, a guest that did not end as asked, a soak failure, output lost) |
/// | 2 | bad input: a file, tree, blob, key or a value that parses but cannot be used; the message names the input and the fix |
/// | 64 | command-line syntax: unknown options, missing or unparsable values (as the argument parser rejects them) |
///
/// Commands report bad input with ``badInput(_:)`` (after writing the message through
/// ``CLIReporter``) and failures with ``failure``; the argument parser's own errors
/// keep their code (64, or 0 for `--help`).
enum CLIExit {
    /// 1: the job ran and found a failure.
    static let failure = ExitCode(1)
    /// 2: bad input.
    static let badInputCode = ExitCode(2)

    /// Writes `svmkit <command>: <message>` to standard error and returns exit code 2 to throw.
    static func badInput(_ command: String, _ message: String) -> ExitCode {
        CLIReporter.err("svmkit \(command): \(message)\n")
        return badInputCode
    }

    /// Writes what `error` says (help text to standard output, a parse error to standard
    /// error) and exits with its code.
    static func leave(_ error: any Error, root: SVMKitCommand.Type) -> Never {
        let code = root.exitCode(for: error)
        let message = root.fullMessage(for: error)
        if !message.isEmpty {
            if code == .success { CLIReporter.out(message + "\n") } else { CLIReporter.err(message + "\n") }
        }
        CLIReporter.finish(code.rawValue)
    }
}
