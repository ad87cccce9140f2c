import ArgumentParser
import Foundation
import SWIOTLB
import SWIOTLBBenchmarks

/// `svmkit bench swiotlb`: bounce-buffer throughput against memcpy in the same run.
struct BenchSWIOTLBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiotlb",
        abstract: "SWIOTLB bounce-buffer throughput and latency, as a ratio to memcpy measured in the same run.",
        discussion: """
            For each size (or --mix), queue depth, thread count, direction and allocator: each thread keeps \
            QD mappings outstanding in a ring on a fresh pool (its own CPU hint, hence its own area): \
            complete the oldest (a simulated device reads every TO_DEVICE slot and writes every \
            FROM_DEVICE one, then unmap) and map the next. The memcpy baseline runs the same ring \
            over QD staging buffers and moves the same bytes (map always copies in; unmap copies back \
            for FROM_DEVICE and BIDIRECTIONAL). \
            Then the allocator alone is timed on an empty and on a 90 %-full pool. \
            Build with `swift build -c release --product svmkit` before measuring.
            """
    )

    @Option(help: "Mapping sizes, comma-separated (K and M suffixes; at most 256K).")
    var sizes = "2K,4K,16K,64K,256K"

    @Option(help: "Mappings each thread keeps outstanding, comma-separated (a ring: map the next, unmap the oldest).")
    var queueDepth = "1"

    @Option(help: "Draw sizes from a weighted mix instead of --sizes, e.g. 4K:70,64K:25,256K:5.")
    var mix: String?

    @Option(help: "Thread counts, comma-separated.")
    var threads = "1,2"

    @Option(help: "Areas in the pool (rounded up to a power of two). Default: possible CPUs, as Linux.")
    var areas: Int?

    @Option(help: "to-device, from-device, bidirectional or all.")
    var direction = "all"

    @Option(help: "Seconds per point.")
    var seconds = 0.5

    @Option(help: "fast, reference or both.")
    var allocator = "fast"

    @Option(help: "Pool size (K, M, G suffixes).")
    var poolSize = "64M"

    @Flag(help: "Skip the allocator-only measurement on an empty and a 90 %-full pool.")
    var skipAllocationCost = false

    @Flag(help: "Also measure dynamic growth: share calls per growth, latency of the growing map, memory returned.")
    var growth = false

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Option(help: "Also write the JSON report to this file.")
    var output: String?

    @Option(help: "Also write an SVG chart (throughput against size, SWIOTLB beside memcpy) to this file.")
    var svg: String?

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to --output or --svg.")
    var force = false

    /// The most entries a list option takes.
    static let maximumListLength = 64

    /// The plan, or exit 2 naming the option whose value cannot be used (values are
    /// checked here, not in `validate()`, whose errors exit 64: that code is for syntax).
    func plan() throws(ExitCode) -> SWIOTLBBenchPlan {
        do { return try checkedPlan() } catch { throw CLIExit.badInput("bench swiotlb", error.message) }
    }

    func checkedPlan() throws(ValidationError) -> SWIOTLBBenchPlan {
        guard sizes.split(separator: ",").count <= Self.maximumListLength, threads.split(separator: ",").count <= Self.maximumListLength
        else { throw ValidationError("--sizes and --threads take at most \(Self.maximumListLength) entries each") }
        let sizeList = try sizes.split(separator: ",").map { (text: Substring) throws(ValidationError) -> Int in
            let size: UInt64
            do { size = try ByteCount.parse(String(text), option: "--sizes") } catch { throw ValidationError("\(error)") }
            guard size >= 1, size <= UInt64(SWIOTLB.segmentSize) else {
                throw ValidationError("--sizes: '\(text)' is not a size from 1 byte to 256K")
            }
            return Int(size)
        }
        let threadList = try threads.split(separator: ",").map { (text: Substring) throws(ValidationError) -> Int in
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...64).contains(n) else {
                throw ValidationError("--threads: '\(text)' is not a thread count from 1 to 64")
            }
            return n
        }
        let depthList = try queueDepth.split(separator: ",").map { (text: Substring) throws(ValidationError) -> Int in
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), (1...4096).contains(n) else {
                throw ValidationError("--queue-depth: '\(text)' is not a queue depth from 1 to 4096")
            }
            return n
        }
        var sizeMix: SWIOTLBBenchMix?
        if let mix {
            guard let parsed = SWIOTLBBenchMix(mix) else {
                throw ValidationError("--mix: '\(mix)' is not SIZE:WEIGHT,... with sizes up to 256K and weights 1...1000000")
            }
            sizeMix = parsed
        }
        guard !depthList.isEmpty else { throw ValidationError("--queue-depth must not be empty") }
        guard !sizeList.isEmpty, !threadList.isEmpty else { throw ValidationError("--sizes and --threads must not be empty") }
        let directions: [DMADirection]
        switch direction {
        case "to-device": directions = [.toDevice]
        case "from-device": directions = [.fromDevice]
        case "bidirectional": directions = [.bidirectional]
        case "all": directions = [.toDevice, .fromDevice, .bidirectional]
        default: throw ValidationError("--direction: '\(direction)' is not to-device, from-device, bidirectional or all")
        }
        let allocators: [SWIOTLBAllocatorKind]
        switch allocator {
        case "fast": allocators = [.fast]
        case "reference": allocators = [.reference]
        case "both": allocators = [.fast, .reference]
        default: throw ValidationError("--allocator: '\(allocator)' is not fast, reference or both")
        }
        guard seconds > 0, seconds <= 3600 else { throw ValidationError("--seconds: \(seconds) is not in (0, 3600]") }
        guard let poolBytes = try? ByteCount.parse(poolSize, option: "--pool-size"), poolBytes > 0,
            poolBytes % UInt64(SWIOTLB.segmentSize) == 0, poolBytes <= 4 << 30
        else {
            throw ValidationError("--pool-size: '\(poolSize)' is not a multiple of 256K up to 4G")
        }
        let pool = Int(poolBytes)
        let areaCount = areas ?? SWIOTLBBenchClock.possibleProcessorCount
        guard (0...4096).contains(areaCount) else { throw ValidationError("--areas: \(areaCount) is not in 0...4096") }
        return SWIOTLBBenchPlan(
            sizes: sizeList, mix: sizeMix, queueDepths: depthList, threads: threadList, areas: areaCount,
            directions: directions, seconds: seconds, allocators: allocators, poolSize: pool,
            progress: CLIReporter.progressAllowed(json: json), allocationCost: !skipAllocationCost, growth: growth)
    }

    func run() throws {
        let plan = try plan()
        try BootCLI.checkOutput(output, "--output", force: force, command: "bench swiotlb")
        try BootCLI.checkOutput(svg, "--svg", force: force, command: "bench swiotlb")
        let runner = try SWIOTLBBenchRunner(plan: plan)
        let report = try runner.run()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(report)
        if let output {
            try BootCLI.write(String(decoding: data, as: UTF8.self) + "\n", to: output, "--output", force: force, command: "bench swiotlb")
        }
        if let svg {
            try BootCLI.write(SWIOTLBBenchChart.svg(report), to: svg, "--svg", force: force, command: "bench swiotlb")
        }
        if json {
            CLIReporter.out(String(decoding: data, as: UTF8.self) + "\n")
        } else {
            CLIReporter.out(SWIOTLBBenchFormat.table(report) + "\n")
        }
    }
}
