import ArgumentParser
import Foundation
import SWIOTLB

/// `svmkit swiotlb advise TRACE.json`: the smallest bounce pool with no "buffer is
/// full" failure for a recorded request stream, and the `swiotlb=` line that gives it.
struct SWIOTLBAdviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise",
        abstract: "Advise a SWIOTLB pool size for a recorded map/unmap stream.",
        discussion: """
            Replays the trace (the replay format of `svmkit swiotlb replay`) on empty pools of \
            growing size, one segment per area at a time, until one has no "swiotlb buffer is \
            full" failure, and prints that size, the high-water mark, the fragmentation at the \
            peak and the swiotlb= line whose pool, after Linux's rounding, holds at least that. \
            --json prints, per scenario, minimumSlots (the raw need before rounding), \
            minimumBytes, highWaterSlots, swiotlbParameter and the rest. Exit 1 if no pool up to \
            8 GiB works, 2 for a trace that cannot be read.

            Examples:
              svmkit swiotlb advise trace.json
              svmkit swiotlb advise trace.json --areas 4 --json
            """
    )

    @Argument(help: ArgumentHelp("The trace; - reads standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Areas of the pools tried (a power of two). Default: the trace's nareas.", valueName: "n"))
    var areas: Int?

    @Option(help: ArgumentHelp("reference (Linux 6.12's search, the default), linux61 (Linux 6.1's) or fast.", valueName: "kind"))
    var allocator = "reference"

    @Option(help: ArgumentHelp("Kernel whose swiotlb= rounding applies: 6.12 or 6.1 (the same rules).", valueName: "version"))
    var linux = "6.12"

    @Flag(help: "Print JSON.")
    var json = false

    /// One scenario's advice in the `--json` output: the advice's fields and the
    /// kernel version whose rounding applies.
    struct Row: Encodable {
        var advice: SWIOTLBPoolAdvice
        var linux: String
        enum Keys: String, CodingKey { case linux }
        func encode(to encoder: any Encoder) throws {
            try advice.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(linux, forKey: .linux)
        }
    }

    func run() throws {
        guard let kind = SWIOTLBAllocatorKind(rawValue: allocator) else {
            throw Self.fail("--allocator \(allocator): expected reference, linux61 or fast")
        }
        guard ["6.12", "6.1"].contains(linux) else { throw Self.fail("--linux \(linux): expected 6.12 or 6.1") }
        let bytes: [UInt8]
        do {
            bytes = try CLIInput.read(file, limit: CLIInput.Limit.blob, what: "a trace")
        } catch {
            throw Self.fail("\(file): \(error)")
        }
        let trace: SWIOTLBReplayTrace
        do {
            trace = try SWIOTLBReplayTrace(json: bytes)
        } catch {
            throw Self.fail("\(file): \(error)")
        }
        var rows: [Row] = []
        for scenario in trace.scenarios {
            let advice: SWIOTLBPoolAdvice
            do {
                advice = try SWIOTLBPoolAdvisor.advise(scenario, areas: areas, allocator: kind)
            } catch {
                throw Self.fail("--areas \(areas.map(String.init) ?? "?"): \(error)")
            }
            rows.append(Row(advice: advice, linux: linux))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(rows.count == 1 ? AnyRows.one(rows[0]) : AnyRows.many(rows))
            print(String(decoding: data, as: UTF8.self))
        } else {
            for r in rows { print(Self.text(r)) }
        }
        if rows.contains(where: { $0.advice.minimumSlots == nil }) { throw ExitCode(1) }
    }

    /// One object for one scenario, `{"scenarios": [...]}` for several.
    enum AnyRows: Encodable {
        case one(Row)
        case many([Row])
        enum Keys: String, CodingKey { case scenarios }
        func encode(to encoder: any Encoder) throws {
            switch self {
            case .one(let row): try row.encode(to: encoder)
            case .many(let rows):
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(rows, forKey: .scenarios)
            }
        }
    }

    static func text(_ row: Row) -> String {
        let r = row.advice
        let allocator = r.allocator.rawValue
        guard let minimum = r.minimumSlots, let parameter = r.swiotlbParameter else {
            return "\(r.scenario): no pool up to \(SWIOTLBPoolAdvisor.searchLimitSlots) slots avoids \"buffer is full\""
        }
        var lines = [
            "\(r.scenario): smallest pool with no \"swiotlb buffer is full\": \(minimum) slots "
                + "(\(minimum * SWIOTLB.slotSize) bytes) in \(r.areas) area\(r.areas == 1 ? "" : "s") (\(allocator) allocator)",
            "  high-water \(r.highWaterSlots) slots (the mappings alone need \(r.peakDemandSlots)); at the peak "
                + "\(r.freeSlotsAtPeak) slots free, longest free run \(r.largestFreeRunAtPeak), fragmentation "
                + "\(Int((r.fragmentationAtPeak * 100).rounded())) %",
            "  use swiotlb=\(parameter) (Linux \(row.linux) rounds it to \(r.roundedSlots ?? minimum) slots"
                + ((r.failuresAtRoundedSize ?? 0) > 0
                    ? "; that pool fails \(r.failuresAtRoundedSize ?? 0) maps of this trace: next fit is unlucky there)"
                    : ")"),
        ]
        if r.impossibleMaps > 0 {
            lines.append("  \(r.impossibleMaps) maps fail in any pool (too large after alignment)")
        }
        return lines.joined(separator: "\n")
    }

    /// Prints `svmkit swiotlb advise: <message>` to standard error; exit 2 (bad input).
    static func fail(_ message: String) -> ExitCode {
        CLIExit.badInput("swiotlb advise", message)
    }
}
