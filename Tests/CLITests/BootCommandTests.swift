import Foundation
import Testing

/// `svmkit boot` end to end, through the built binary.
@Suite("svmkit boot: options, JSON and exit codes")
struct BootCommandTests {
    @Test("svm=off: exit 0, JSON with the contract keys")
    func svmOff() throws {
        let r = try FDTCLIRunner.run(["boot", "--cmdline", "svm=off console=hvc0", "--memory", "1G", "--cpus", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        #expect(object["secure"] as? Bool == false)
        #expect(object["esmResult"] is NSNull)
        #expect(object["isolationViolations"] as? Int == 0)
    }

    @Test("Bad input exits 2 naming the option", arguments: [
        (["boot", "--memory", "3X"], "--memory"),
        (["boot", "--esm-check", "maybe"], "--esm-check"),
        (["boot", "--fdt", "/nonexistent/x.dtb"], "--fdt"),
        (["boot", "--kbase", "0x1234"], "--kbase"),
    ])
    func badInput(arguments: [String], option: String) throws {
        let r = try FDTCLIRunner.run(arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains(option), "\(r.stderr)")
    }

    @Test("--trace writes one JSON object per line")
    func trace() throws {
        let path = FDTCLIRunner.temporary(".jsonl")
        defer { try? FileManager.default.removeItem(at: path) }
        let r = try FDTCLIRunner.run(["boot", "--memory", "1G", "--cpus", "1", "--trace", path.path])
        _ = r
        let lines = try String(contentsOf: path, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil) }
    }
}
