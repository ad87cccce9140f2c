import Foundation
import Testing

/// Issue 19 item 6: the README's marked tour (`<!-- tour:begin -->` … `<!-- tour:end -->`)
/// runs verbatim. Its `sh` blocks run in order in a temporary directory laid out like a
/// clone (`Scripts/svmkit` is the built binary; nothing is built here), each under
/// `sh -e`; the `text` block after an `sh` block lists lines its output (standard
/// output and error) must contain.
@Suite("README: the tour works verbatim")
struct ReadmeTourTests {
    /// One `sh` block and the lines expected from it.
    struct Step {
        var script: String
        var expected: [String]
    }

    /// The tour's steps, from README.md at the package root.
    static func steps() throws -> [Step] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let begin = text.range(of: "<!-- tour:begin -->"), let end = text.range(of: "<!-- tour:end -->"),
            begin.upperBound < end.lowerBound
        else { throw TourError.noMarkers }
        var steps: [Step] = []
        var fence: String?
        var body: [String] = []
        for line in text[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if let kind = fence {
                if line == "```" {
                    if kind == "sh" {
                        steps.append(Step(script: body.joined(separator: "\n"), expected: []))
                    } else if kind == "text", !steps.isEmpty {
                        steps[steps.count - 1].expected += body.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                    }
                    fence = nil
                    body = []
                } else {
                    body.append(String(line))
                }
            } else if line.hasPrefix("```") {
                fence = String(line.dropFirst(3))
            }
        }
        return steps
    }

    enum TourError: Error { case noMarkers }

    @Test("The marked section has sh blocks, each followed by the lines it prints")
    func shape() throws {
        let steps = try Self.steps()
        #expect(steps.count >= 6)
        #expect(steps.allSatisfy { !$0.expected.isEmpty })
        #expect(steps.allSatisfy { $0.script.contains("Scripts/svmkit") })
    }

    @Test("Every block runs, in order, and prints its key lines")
    func tour() async throws {
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scripts = dir.appendingPathComponent("Scripts")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: scripts.appendingPathComponent("svmkit").path, withDestinationPath: try FDTCLIRunner.binary().path)
        for (i, step) in try Self.steps().enumerated() {
            let r = try await CLIShell.run("set -e\nexec 2>&1\n" + step.script, in: dir)
            #expect(!r.signalled && r.status == 0, "block \(i + 1) ended with \(r.summary):\n\(step.script)\n\(r.stdout)")
            for line in step.expected {
                let key = line.trimmingCharacters(in: .whitespaces)
                #expect(r.stdout.contains(key), "block \(i + 1) did not print \"\(key)\":\n\(r.stdout)")
            }
            if r.status != 0 { break }
        }
    }
}
