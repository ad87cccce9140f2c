import Foundation
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

    /// Runs `svmkit arguments…` with `stdin` as standard input; output goes
    /// through files so no pipe can fill up.
    static func run(_ arguments: [String], stdin: [UInt8]? = nil) throws -> Result {
        let out = temporary(".out")
        let err = temporary(".err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        var input: URL? = nil
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
            if let input { try? FileManager.default.removeItem(at: input) }
        }
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        if let stdin {
            let url = temporary(".in")
            try Data(stdin).write(to: url)
            input = url
            process.standardInput = try FileHandle(forReadingFrom: url)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: Array(try Data(contentsOf: out)),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    /// `dtc -I dtb -O dts` over a file: (status, stdout, stderr).
    static func dtc(_ file: URL) throws -> (Int32, String, String) {
        let out = temporary(".dts")
        let err = temporary(".err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dtc")
        process.arguments = ["-I", "dtb", "-O", "dts", file.path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self),
            String(decoding: try Data(contentsOf: err), as: UTF8.self)
        )
    }
}
