import ArgumentParser
import DeviceTree
import Foundation

/// Reading device trees named on the command line, and the `svmkit fdt` exit codes:
/// 0 success, 1 a node or property that is not there, 2 bad input (a file that
/// cannot be read, a blob that is not a valid device tree, a value out of range).
/// Command-line syntax errors are the argument parser's (exit 64).
enum FDTInput {
    /// Exit status for bad input.
    static let badInput = CLIExit.badInputCode
    /// Exit status for a missing node or property.
    static let notFound = CLIExit.failure

    /// Prints `svmkit fdt <command>: <message>` to standard error and returns `code` to throw.
    static func fail(_ command: String, _ message: String, _ code: ExitCode = badInput) -> ExitCode {
        CLIReporter.err("svmkit fdt \(command): \(message)\n")
        return code
    }

    /// The bytes of `path` (`-` is standard input), at most ``CLIInput/Limit/deviceTree``.
    static func read(_ path: String, command: String) throws(ExitCode) -> [UInt8] {
        do { return try CLIInput.read(path, limit: CLIInput.Limit.deviceTree, what: "a device tree") } catch {
            throw fail(command, "\(path == "-" ? "standard input" : path): \(error.reason)")
        }
    }

    /// `path` opened as a device tree.
    static func tree(_ path: String, command: String) throws(ExitCode) -> DeviceTree {
        let bytes = try read(path, command: command)
        do {
            return try DeviceTree(bytes: bytes)
        } catch {
            throw fail(command, "\(path) is not a valid flattened device tree (\(bytes.count) bytes): \(error)")
        }
    }

    /// Writes `data` to standard output.
    static func writeStandardOutput(_ data: [UInt8]) {
        CLIReporter.out(data)
    }
}
