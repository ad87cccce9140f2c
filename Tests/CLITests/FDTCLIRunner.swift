import Foundation
import ProcessTestSupport
import Testing

/// Runs the built `svmkit` binary, as a user would.
enum FDTCLIRunner {
    /// What one run printed and returned.
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
        var text: String { String(decoding: stdout, as: UTF8.self) }
    }

    /// The `svmkit` executable next to the test bundle (SwiftPM builds it first,
    /// because CLITests depends on it), else in the package's .build/debug.
    static func binary() throws -> URL {
        var dirs: [URL] = []
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        dirs.append(Bundle.main.bundleURL)
        dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for b in Bundle.allBundles { dirs.append(b.bundleURL.deletingLastPathComponent()) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        dirs.append(package.appendingPathComponent(".build/debug"))
        for d in dirs {
            let candidate = d.appendingPathComponent("svmkit")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate
            }
        }
        throw NotFound(searched: dirs.map(\.path))
    }

    /// No `svmkit` binary was found.
    struct NotFound: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "no svmkit binary in \(searched)" }
    }

    /// A QEMU fixture from the DeviceTree tests' Fixtures directory.
    static func fixture(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DeviceTreeTests/Fixtures/\(name)")
    }

    /// A fresh temporary path.
    static func temporary(_ suffix: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-cli-\(UUID().uuidString)\(suffix)")
    }

    /// Runs `svmkit arguments…` with `stdin` as standard input (/dev/null when nil).
    static func run(_ arguments: [String], stdin: [UInt8]? = nil) async throws -> Result {
        let r = try await ChildProcess.run(try binary().path, arguments, input: stdin)
        return Result(status: r.status, stdout: r.stdout, stderr: r.stderrText)
    }

    /// `dtc -I dtb -O dts` over a file: (status, stdout, stderr).
    static func dtc(_ file: URL) async throws -> (Int32, String, String) {
        let r = try await ChildProcess.run("/usr/bin/dtc", ["-I", "dtb", "-O", "dts", file.path])
        return (r.status, r.stdoutText, r.stderrText)
    }
}
