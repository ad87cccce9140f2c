import ArgumentParser
import Foundation
import SVMKit

/// `svmkit bench boot`: how long it takes a guest to go secure.
struct BenchBootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Time UV_ESM for a large guest: wall time and cost per page.",
        discussion: """
            Boots the default image (svm=on) on a guest of the given size with call records \
            off (counts only) and reports the wall time of the whole boot and of the \
            Ultravisor's part, the pages the hypervisor paged in for it, the cost per 64 KiB \
            page of guest memory and resident memory. For context it prints the one published \
            figure for real POWER9 hardware (a 100 GB guest took about 7 minutes to go \
            secure: ~4.2 s per GB; reference/linux-guest-facts.md §3.6); that figure predates \
            KVM 5.9, whose H_SVM_INIT_DONE no longer pages every page in, which SVMKit \
            models, so it is no like-for-like comparison. Build with -c release \
            (Scripts/svmkit does) for meaningful numbers.

            Examples:
              svmkit bench boot --memory 64G --cpus 16
              svmkit bench boot --memory 4G --repeat 5 --json
            """)

    @Option(help: "Guest RAM.") var memory: String = "64G"
    @Option(help: "vCPUs.") var cpus: Int = 16
    @Option(name: .customLong("repeat"), help: "Boots to time (the median is reported).") var repeatCount: Int = 3
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Print one JSON object.") var json = false

    /// The most boots `--repeat` times (each can take seconds on a large guest).
    static let maximumRepeat = 100

    /// Real POWER9 hardware before KVM 5.9: ~4.2 s per GB to go secure (every page
    /// paged in at `H_SVM_INIT_DONE`; no later figure is published).
    static let hardwareSecondsPerGB = 4.2

    struct Result: Codable {
        var memoryBytes: UInt64
        var cpus: Int
        var secure: Bool
        var wallSeconds: Double
        var wallSecondsRuns: [Double]
        var pages: Int
        var nanosecondsPerPage: Double
        var pageInCalls: Int
        var hardwareSecondsEstimate: Double
        var speedupOverHardware: Double
        var residentMiB: Double
    }

    func run() throws {
        var c = BootConfiguration()
        c.memoryBytes = try BootCLI.size(memory, "--memory", command: "bench boot")
        c.cpuCount = cpus
        c.seed = seed
        guard (1...Self.maximumRepeat).contains(repeatCount) else {
            throw BootCLI.fail("--repeat \(repeatCount): expected 1 to \(Self.maximumRepeat) boots", command: "bench boot")
        }
        guard (1...PseriesTreeOptions.maximumCPUCount).contains(cpus) else {
            throw BootCLI.fail("--cpus \(cpus): expected 1 to \(PseriesTreeOptions.maximumCPUCount)", command: "bench boot")
        }
        // One key for every run, so the runs time the boot, not RSA key generation.
        c.tpmKeyPEM = try? TPMProvisioning.generateKeyPEM()
        var runs: [Double] = []
        var last: (BootReport, SecureVirtualMachine)? = nil
        for i in 0..<repeatCount {
            CLIReporter.progress("bench boot: run \(i + 1)/\(repeatCount)…", json: json)
            let vm: SecureVirtualMachine
            do { vm = try SecureVirtualMachine(configuration: c, traceDetail: false) } catch { throw BootCLI.fail("\(error)", command: "bench boot") }
            let r = vm.boot()
            runs.append(r.wallSeconds)
            last = (r, vm)
        }
        CLIReporter.endProgress(json: json)
        guard let (report, vm) = last else { return }
        let median = runs.sorted()[runs.count / 2]
        let pages = Int(c.memoryBytes >> 16)
        let gb = Double(c.memoryBytes) / 1e9
        let hw = gb * Self.hardwareSecondsPerGB
        let result = Result(
            memoryBytes: c.memoryBytes, cpus: cpus, secure: report.secure, wallSeconds: median, wallSecondsRuns: runs,
            pages: pages, nanosecondsPerPage: median * 1e9 / Double(pages),
            pageInCalls: report.calls["H_SVM_PAGE_IN"] ?? 0, hardwareSecondsEstimate: hw,
            speedupOverHardware: median > 0 ? hw / median : 0,
            residentMiB: Double(vm.machine.memory.residentBytes()) / Double(1 << 20))
        if json {
            BootCLI.printJSON(result)
        } else {
            CLIReporter.out("guest            \(ByteCount.describe(c.memoryBytes)), \(cpus) vCPUs, secure: \(report.secure ? "yes" : "no (\(report.esmFailure ?? report.osTerm ?? "?"))")\n")
            CLIReporter.out(String(format: "boot wall time   %.3f s (median of %d: %@)", median, runs.count, runs.map { String(format: "%.3f", $0) }.joined(separator: ", ")) + "\n")
            CLIReporter.out(String(format: "per 64 KiB page  %.1f ns over %d pages; H_SVM_PAGE_IN calls: %d", result.nanosecondsPerPage, pages, result.pageInCalls) + "\n")
            CLIReporter.out(String(format: "pre-5.9 hardware ~%.1f s at 4.2 s/GB (every page paged in; not like for like)", hw) + "\n")
            CLIReporter.out(String(format: "resident memory  %.1f MiB of guest RAM touched", result.residentMiB) + "\n")
        }
        // A boot that did not go secure times a failure, not UV_ESM: say so with the exit status.
        if !report.secure { throw CLIExit.failure }
    }
}
