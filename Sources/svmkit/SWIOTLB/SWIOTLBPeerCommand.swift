import ArgumentParser
import Foundation
import SWIOTLBBenchmarks

/// `svmkit swiotlb peer`: merges a `svmkit bench swiotlb --json` report with the rows
/// of Linux's own allocator (`Scripts/linux-oracle bench`, same workload) into one
/// report, and draws the chart with memcpy, SVMKit and Linux side by side.
/// `Scripts/bench --peer linux` runs both and calls this.
struct SWIOTLBPeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Merge svmkit bench swiotlb results with Linux's allocator's (Scripts/bench --peer linux).",
        discussion: """
            Writes one object: svmkit's report with the Linux rows added to its results \
            (allocator linux-<version>), prints the table of every row, and draws the \
            SVG chart (memcpy, SVMKit fast and reference, Linux).

            Example:
              svmkit swiotlb peer --svmkit ours.json --linux linux.json -o bench/swiotlb-peer.json --svg bench/swiotlb-peer.svg
            """
    )

    @Option(help: ArgumentHelp("The JSON of svmkit bench swiotlb --json.", valueName: "file"))
    var svmkit: String

    @Option(help: ArgumentHelp("The JSON of Scripts/linux-oracle bench (a results list).", valueName: "file"))
    var linux: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the merged report.", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("Also draw the chart into this SVG file.", valueName: "file"))
    var svg: String?

    func run() throws {
        let ours = try Self.object(svmkit)
        let theirs = try Self.object(linux)
        guard var results = ours["results"] as? [Any], let linuxRows = theirs["results"] as? [Any] else {
            throw SWIOTLBReplayCommand.fail("\(svmkit) or \(linux) has no results list")
        }
        results += linuxRows
        var merged = ours
        merged["results"] = results
        merged["peer"] = theirs["allocator"] ?? "linux"
        let data = try JSONSerialization.data(withJSONObject: merged, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: output), options: .atomic)

        let peer = try JSONDecoder().decode(PeerRows.self, from: data)
        print(Self.table(peer.results), terminator: "")
        for line in Self.linuxComparison(peer.results) { print(line) }
        if let growth = peer.growth { print(SWIOTLBBenchFormat.growthLine(growth)) }
        if let svg {
            // The chart names the peer series "linux"; the report keeps the full version.
            var chartObject = merged
            chartObject["results"] = results.map { row -> Any in
                guard var r = row as? [String: Any], let a = r["allocator"] as? String, a.hasPrefix("linux") else { return row }
                r["allocator"] = "linux"
                return r
            }
            let chartData = try JSONSerialization.data(withJSONObject: chartObject)
            let report = try JSONDecoder().decode(SWIOTLBBenchReport.self, from: chartData)
            try Data(SWIOTLBBenchChart.svg(report).utf8).write(to: URL(fileURLWithPath: svg), options: .atomic)
        }
    }

    static func object(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw SWIOTLBReplayCommand.fail("\(path) is not a JSON object") }
        return object
    }

    /// The columns the comparison needs, whatever else a row holds.
    struct PeerRows: Decodable {
        struct Row: Decodable {
            var size: Int
            var threads: Int
            var direction: String
            var allocator: String
            var bytesPerSecond: Double
            var memcpyBytesPerSecond: Double
            var ratio: Double
            var p50Nanoseconds: Double
            var queueDepth: Int?
            var mix: String?
            var mappingsPerSecond: Double?
        }
        var results: [Row]
        var growth: SWIOTLBGrowthCost?
    }

    /// SVMKit's fast allocator over Linux's, in mappings per second, for every point
    /// both ran (issue 18's goal: at least 2x at 4 KiB, queue depth 32).
    static func linuxComparison(_ rows: [PeerRows.Row]) -> [String] {
        func key(_ r: PeerRows.Row) -> String {
            "\(r.direction) \(r.mix ?? SWIOTLBBenchFormat.size(r.size)) QD \(r.queueDepth ?? 1) \(r.threads) thr"
        }
        let linux = Dictionary(
            rows.filter { $0.allocator.hasPrefix("linux") }.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        return rows.filter { $0.allocator == "fast" }.sorted { key($0) < key($1) }.compactMap { r in
            guard let theirs = linux[key(r)], let a = r.mappingsPerSecond, let b = theirs.mappingsPerSecond, b > 0
            else { return nil }
            return "fast / \(theirs.allocator) mappings/s, \(key(r)): \(SWIOTLBBenchFormat.fixed(a / b, 2))x"
        }
    }

    static func table(_ rows: [PeerRows.Row]) -> String {
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return left ? s + fill : fill + s
        }
        let fixed = SWIOTLBBenchFormat.fixed
        var out = pad("direction", 14, left: true) + pad("size", 6) + pad("QD", 5) + pad("thr", 4) + "  "
            + pad("allocator", 16, left: true) + pad("GB/s", 7) + pad("memcpy GB/s", 13) + pad("ratio", 7) + pad("p50 ns", 8) + "\n"
        let sorted = rows.sorted {
            ($0.direction, $0.queueDepth ?? 1, $0.size, $0.threads, $0.allocator)
                < ($1.direction, $1.queueDepth ?? 1, $1.size, $1.threads, $1.allocator)
        }
        for r in sorted {
            let size = r.mix ?? (r.size % 1024 == 0 ? "\(r.size / 1024)K" : "\(r.size)")
            out += pad(r.direction, 14, left: true) + pad(size, 6) + pad("\(r.queueDepth ?? 1)", 5) + pad("\(r.threads)", 4)
                + "  " + pad(r.allocator, 16, left: true) + pad(fixed(r.bytesPerSecond / 1e9, 2), 7)
                + pad(fixed(r.memcpyBytesPerSecond / 1e9, 2), 13) + pad(fixed(r.ratio, 2), 7)
                + pad(fixed(r.p50Nanoseconds, 0), 8) + "\n"
        }
        return out
    }
}
