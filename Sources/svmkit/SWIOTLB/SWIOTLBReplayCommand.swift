import ArgumentParser
import Foundation
import SWIOTLB

/// `svmkit swiotlb replay FILE.json`: replays a request stream and prints, per map,
/// the bounce address or the failure.
struct SWIOTLBReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a recorded map/unmap stream against a SWIOTLB pool.",
        discussion: """
            Input: {"pool": {"start", "nslabs", "nareas", "page_size"}, "ops": [...]} or \
            {"scenarios": [that object with a "name", ...]}. Ops are {"op": "map", "id", \
            "orig_addr", "size", "alloc_align_mask", "min_align_mask", "seg_boundary_mask", \
            "cpu"} and {"op": "unmap", "id"}; numbers may be "0x…" strings; unknown \
            fields are ignored.

            --json prints {"scenarios": [{"name", "results": [{"i", "op", "id", "ok", \
            "tlb_addr", "used_after"}]}]}, byte for byte what Scripts/linux-oracle replay \
            prints for the same file from Linux's own kernel/dma/swiotlb.c. A map Linux \
            would refuse is a result with ok false. Malformed input exits 2 naming the op.

            Examples:
              svmkit swiotlb replay trace.json
              svmkit swiotlb replay trace.json --allocator fast --json
            """
    )

    @Argument(help: ArgumentHelp("The trace to replay; - reads standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp(
        "reference (Linux 6.12's next-fit search, step by step), linux61 (Linux 6.1's search) or fast.",
        valueName: "kind"))
    var allocator = "reference"

    @Flag(help: "Print the results as JSON, as Scripts/linux-oracle replay does.")
    var json = false

    func run() throws {
        guard let kind = SWIOTLBAllocatorKind(rawValue: allocator) else {
            throw Self.fail("--allocator \(allocator): expected reference, linux61 or fast")
        }
        let bytes: [UInt8]
        do {
            bytes = try CLIInput.read(file, limit: CLIInput.Limit.blob, what: "a trace")
        } catch {
            throw Self.fail("\(file): \(error)")
        }
        let report: SWIOTLBReplayReport
        do {
            report = try SWIOTLBReplayer.replay(SWIOTLBReplayTrace(json: bytes), allocator: kind)
        } catch let error as SWIOTLBReplayError {
            throw Self.fail("\(file): \(error)")
        } catch {
            throw Self.fail("\(file): \(error)")
        }
        if json {
            print(report.json, terminator: "")
            return
        }
        for scenario in report.scenarios {
            for r in scenario.results where r.isMap {
                let outcome =
                    r.tlbAddress.map { "0x" + String($0, radix: 16) }
                    ?? (r.hang ? "hangs (\(SWIOTLBScanHang.function), Linux \(SWIOTLBScanHang.series))" : "failed")
                print("\(scenario.name) op \(r.index) map id \(r.id): \(outcome) (used \(r.usedAfter))")
            }
            let c = scenario.counts
            print(
                "\(scenario.name): \(c.mapped) mapped, \(c.failed) failed, \(c.unmapped) unmapped, "
                    + "\(scenario.results.last?.usedAfter ?? 0) slots used at the end (\(kind) allocator)")
        }
    }

    /// Prints `svmkit swiotlb replay: <message>` to standard error; exit 2 (bad input).
    static func fail(_ message: String) -> ExitCode {
        CLIExit.badInput("swiotlb replay", message)
    }
}
