import ArgumentParser
import Foundation
import SVMKit

/// `svmkit faults merge`: joins the `--json` reports of a walk's shards.
struct FaultsMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the --json reports of svmkit faults walk --shard K/N into the report of the whole walk.",
        discussion: """
            The result has the same rows as an unsharded walk. Every shard of one walk must \
            be given once; reports of different walks (guest, command line, phases, seed) are \
            refused.

            Exit status: 0 when the merged walk passes; 1 when it has an invariant broken or \
            an unexplained outcome; 2 for bad input (an unreadable report, another walk's \
            report, a shard missing or given twice); 64 for command-line syntax errors.

            Example:
              svmkit faults merge shard1.json shard2.json shard3.json shard4.json --json -o walk.json
            """)

    @Argument(help: "The shards' reports (svmkit faults walk --shard K/N --json -o FILE).") var reports: [String]
    @Flag(help: "Write the merged report as JSON instead of the summary table.") var json = false
    @Option(name: .shortAndLong, help: "Write to FILE instead of standard output.") var output: String?
    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to -o.") var force = false

    static let command = "faults merge"

    func run() throws {
        try BootCLI.checkOutput(output, "-o", force: force, command: Self.command)
        guard !reports.isEmpty else { throw BootCLI.fail("no report given", command: Self.command) }
        var parts: [(name: String, report: FaultWalkReport)] = []
        for path in reports {
            let bytes: [UInt8]
            do { bytes = try CLIInput.read(path, limit: 1 << 30, what: "a fault walk report") } catch {
                throw BootCLI.fail("\(path): \(error.reason)", command: Self.command)
            }
            do {
                parts.append((path, try JSONDecoder().decode(FaultWalkReport.self, from: Data(bytes))))
            } catch {
                throw BootCLI.fail("\(path): not a svmkit faults walk --json report (\(error))", command: Self.command)
            }
        }
        let merged: FaultWalkReport
        do { merged = try FaultWalkReport.merge(parts) } catch {
            throw BootCLI.fail(error.description, command: Self.command)
        }
        let text = json ? CLIJSON.text(merged) : FaultsSummary.render(merged)
        if let output {
            try BootCLI.write(text, to: output, "-o", force: force, command: Self.command)
        } else {
            CLIReporter.out(text)
        }
        if merged.fails { throw CLIExit.failure }
    }
}
