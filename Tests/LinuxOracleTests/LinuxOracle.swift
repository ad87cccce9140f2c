import Foundation
import ProcessTestSupport
import Testing

/// Runs the programs `Scripts/linux-oracle build` makes from the real Linux source
/// (.build-oracle/<version>/bin). The one place tests start them.
enum LinuxOracle {
    /// A missing or failing oracle: the test fails with this message (never skips).
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built program `name` for Linux `version`, or a failure saying how to build it.
    static func program(_ name: String, version: String = "6.12") throws -> URL {
        let url = root.appendingPathComponent(".build-oracle/\(version)/bin/\(name)")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Failure(
                description: "the Linux oracle \(url.path) is missing: run Scripts/linux-oracle build "
                    + "(Scripts/test does) to build it from Debian's linux-source-\(version)")
        }
        return url
    }

    /// The exact kernel version the oracle was built from (`make kernelversion`).
    static func kernelVersion(_ version: String = "6.12") throws -> String {
        // VERSION is data, not a program: program(_:) would refuse it.
        let url = root.appendingPathComponent(".build-oracle/\(version)/bin/VERSION")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw Failure(description: "the Linux oracle's \(url.path) is missing: run Scripts/linux-oracle build")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `name` with `arguments` and `input` on standard input; its standard output.
    static func run(
        _ name: String, _ arguments: [String] = [], input: String = "", version: String = "6.12",
        environment: [String: String] = [:]
    ) async throws -> String {
        let r = try await ChildProcess.run(
            try program(name, version: version).path, arguments, input: Array(input.utf8), environment: environment)
        guard r.succeeded else {
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")) exited \(r.status): " + r.stderrText)
        }
        return r.stdoutText
    }
}
