import Foundation
import ProcessTestSupport
import Testing

/// The one rule as a build check (issue 20): `Scripts/check-guest-fence`, which
/// `Scripts/test` runs before building, fails when a SecureGuest file imports
/// PEFMachine with `@_spi(Firmware)` or imports the Ultravisor or the hypervisor.
@Suite("The guest's firmware fence")
struct GuestFenceTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let script = packageRoot.appendingPathComponent("Scripts/check-guest-fence")

    /// Runs the script on `sources` (a directory holding `SecureGuest/`); exit status
    /// and standard error.
    static func check(_ sources: URL) async throws -> (status: Int32, stderr: String) {
        let r = try await ChildProcess.run("/bin/bash", [script.path, sources.path])
        return (r.status, r.stderrText)
    }

    /// A copy of the real SecureGuest sources in a temporary directory, plus `planted`
    /// as one more file.
    static func sourcesWith(_ planted: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("guest-fence-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: packageRoot.appendingPathComponent("Sources/SecureGuest"), to: dir.appendingPathComponent("SecureGuest"))
        try planted.write(
            to: dir.appendingPathComponent("SecureGuest/Kernel/GuestKernel+Planted.swift"), atomically: true,
            encoding: .utf8)
        return dir
    }

    @Test("The package's own SecureGuest passes")
    func realSourcesPass() async throws {
        let r = try await Self.check(Self.packageRoot.appendingPathComponent("Sources"))
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test(
        "A planted firmware import fails the check, file and line named",
        arguments: [
            "@_spi(Firmware) import PEFMachine",
            "@_spi(Firmware) public import PEFMachine",
            "import Ultravisor",
            "public import Hypervisor",
            "@testable import Hypervisor",
            "import struct Ultravisor.Ultravisor",
        ])
    func plantedViolationFails(_ line: String) async throws {
        let dir = try Self.sourcesWith("import PowerABI\n\(line)\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try await Self.check(dir)
        #expect(r.status == 1)
        #expect(r.stderr.contains("GuestKernel+Planted.swift:2:"), "\(r.stderr)")
    }

    @Test("A plain PEFMachine import and look-alike module names pass")
    func plainImportPasses() async throws {
        let dir = try Self.sourcesWith("import PEFMachine\nimport UltravisorTools\n// import Hypervisor\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try await Self.check(dir)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test("A directory without SecureGuest is bad input")
    func missingDirectory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("guest-fence-\(UUID().uuidString)")
        let r = try await Self.check(dir)
        #expect(r.status == 2)
        #expect(r.stderr.contains(dir.path))
    }
}
