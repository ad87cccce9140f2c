import Foundation
import ProcessTestSupport
import Testing

/// Runs a built example program as a user would and collects what it printed.
enum ExampleRunner {
    /// What one run printed and returned.
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// No built example binary was found.
    struct NotFound: Error, CustomStringConvertible {
        var name: String
        var searched: [String]
        var description: String { "no \(name) binary in \(searched)" }
    }

    /// The example's executable next to the test bundle (SwiftPM builds it first,
    /// because ExamplesTests depends on it), else in the package's .build/debug.
    static func binary(_ name: String) throws -> URL {
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        dirs.append(Bundle.main.bundleURL)
        dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for b in Bundle.allBundles { dirs.append(b.bundleURL.deletingLastPathComponent()) }
        dirs.append(packageRoot.appendingPathComponent(".build/debug"))
        for d in dirs {
            let candidate = d.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate
            }
        }
        throw NotFound(name: name, searched: dirs.map(\.path))
    }

    /// The package's root directory.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A fresh temporary path.
    static func temporary(_ suffix: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-example-\(UUID().uuidString)\(suffix)")
    }

    /// Runs example `name` with `arguments`.
    static func run(_ name: String, _ arguments: [String] = []) async throws -> Result {
        let r = try await ChildProcess.run(try binary(name).path, arguments)
        return Result(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
    }
}
