import Foundation
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
    ) throws -> String {
        let process = Process()
        process.executableURL = try program(name, version: version)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let inURL = scratch.appendingPathComponent("stdin"), errURL = scratch.appendingPathComponent("stderr")
        try Data(input.utf8).write(to: inURL)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let stdout = Pipe()
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errURL)) ?? Data()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "\(name) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                    + String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self)
    }
}
