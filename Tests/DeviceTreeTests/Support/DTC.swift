import Foundation

/// Runs Debian's `dtc`, the independent judge of every tree this module writes.
enum DTC {
    /// What one `dtc` run printed and returned.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `dtc -I dtb -O dts` over `blob`, through a temporary file.
    static func decompile(_ blob: [UInt8]) throws -> Result {
        let dir = FileManager.default.temporaryDirectory
        let input = dir.appendingPathComponent("svmkit-dt-\(UUID().uuidString).dtb")
        try Data(blob).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        return try run(["-I", "dtb", "-O", "dts", input.path])
    }

    /// Runs `dtc` with `arguments`; stdout and stderr go through files, so neither
    /// pipe can fill up and stall the run.
    static func run(_ arguments: [String]) throws -> Result {
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let out = dir.appendingPathComponent("svmkit-dtc-\(id).out")
        let err = dir.appendingPathComponent("svmkit-dtc-\(id).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
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
