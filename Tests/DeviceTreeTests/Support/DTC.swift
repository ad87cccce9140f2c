import Foundation
import ProcessTestSupport

/// Runs Debian's `dtc`, the independent judge of every tree this module writes.
enum DTC {
    /// What one `dtc` run printed and returned.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `dtc -I dtb -O dts` over `blob`, through a temporary file.
    static func decompile(_ blob: [UInt8]) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory
        let input = dir.appendingPathComponent("svmkit-dt-\(UUID().uuidString).dtb")
        try Data(blob).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        return try await run(["-I", "dtb", "-O", "dts", input.path])
    }

    /// Runs `dtc` with `arguments`.
    static func run(_ arguments: [String]) async throws -> Result {
        let r = try await ChildProcess.run(path, arguments)
        return Result(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
    }

    /// `dtc` on the PATH (Scripts/bootstrap installs device-tree-compiler).
    static let path: String = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        for d in dirs + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(d)/dtc"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "/usr/bin/dtc"
    }()
}
