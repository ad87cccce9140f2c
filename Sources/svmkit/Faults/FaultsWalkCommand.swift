import ArgumentParser
import Foundation
import SVMKit
import Synchronization

/// `svmkit faults walk`: the exhaustive fault walk of one guest (issue 21).
struct FaultsWalkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk",
        abstract: "Fail every call site of a boot, block I/O and kexec with every status it can return, and judge each run.",
        discussion: """
            Takes the same inputs as svmkit boot. A baseline run goes through the phases \
            (boot; io: a block-device round trip bounced through SWIOTLB; kexec: a normal and \
            a crash kexec, each with the next kernel's boot) and records every ultracall and \
            hypercall: a site is the Nth call of an opcode by a caller (guest, uv, hv) in a \
            phase, e.g. boot/guest:UV_SHARE_PAGE#2. For every site and every status that call \
            can really return (the firmware's and KVM's return paths), one more run fails that \
            call alone and is judged: invariant-broken (an inconsistency inside SVMKit), \
            damaged (the guest went on with damage; the diagnosis says what), terminated \
            (os-term or another clean stop), handled.

            An outcome is explained when a rule of SVMKit's Linux expectations covers it \
            (each cites the kernel function that makes Linux end so); each row names its rule.

            --shard K/N runs every scenario whose index is K-1 modulo N; svmkit faults merge \
            joins the shards' --json reports into the report of the whole walk.

            Exit status: 0 when every outcome is explained and no invariant broke; 1 when a \
            scenario broke an invariant or ended in a way no expectation explains; 2 for bad \
            input; 64 for command-line syntax errors.

            Examples:
              svmkit faults walk --memory 1G --cpus 2 --jobs 2
              svmkit faults walk --phases boot --json -o boot.json
              svmkit faults walk --memory 1G --cpus 2 --shard 1/4 --json -o shard1.json
              svmkit faults merge shard*.json --json -o walk.json
            """)

    @OptionGroup var inputs: BootInputOptions
    @Option(help: ArgumentHelp("Phases whose calls are walked, comma-separated.", valueName: "boot,io,kexec"))
    var phases: String = "boot,io,kexec"
    @Option(help: "Scenarios run at once (threads).") var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: ArgumentHelp("Run only shard K of N (1 ≤ K ≤ N): the scenarios whose index is K-1 modulo N.", valueName: "K/N"))
    var shard: String?
    @Option(
        name: .customLong("bug"),
        help: ArgumentHelp("Walk a deliberately buggy guest (repeatable), as boot --bug.", valueName: "name"))
    var bug: [String] = []
    @Flag(help: "Write the report as JSON instead of the summary table.") var json = false
    @Option(name: .shortAndLong, help: "Write the report to FILE instead of standard output.") var output: String?
    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to -o.") var force = false
    @Flag(help: "No progress lines on standard error.") var quiet = false
    @Option(help: ArgumentHelp(
        "fork: each scenario is a copy-on-write fork of the baseline at its call (pays only for the tail); replay: each scenario boots from scratch in this process. Both give the same rows.",
        valueName: "fork|replay"))
    var engine: String = "fork"

    static let command = "faults walk"

    func run() throws {
        try BootCLI.checkOutput(output, "-o", force: force, command: Self.command)
        let config = try inputs.makeConfiguration(command: Self.command)
        let walked = try FaultsWalkCommand.phases(phases)
        guard jobs >= 1, jobs <= 1024 else { throw BootCLI.fail("--jobs \(jobs): expected 1 to 1024", command: Self.command) }
        var slice: FaultWalkShard?
        if let shard {
            guard let s = FaultWalkShard(shard) else {
                throw BootCLI.fail("--shard \(shard): expected K/N with 1 ≤ K ≤ N, e.g. 1/4", command: Self.command)
            }
            slice = s
        }
        var bugs = Set<GuestBug>()
        for name in bug {
            guard let b = GuestBug(rawValue: name) else {
                throw BootCLI.fail(
                    "--bug \(name): expected one of " + GuestBug.allCases.map(\.rawValue).joined(separator: ", "),
                    command: Self.command)
            }
            bugs.insert(b)
        }
        guard engine == "fork" || engine == "replay" else {
            throw BootCLI.fail("--engine \(engine): expected fork or replay", command: Self.command)
        }
        // One swtpm serves one sequence of commands: forked runs, or runs in parallel,
        // would interleave theirs on its connection.
        if config.tpm.external != nil, engine == "fork" || jobs > 1 {
            throw BootCLI.fail(
                "--tpm \(inputs.tpm): runs would share one swtpm connection; give --engine replay --jobs 1",
                command: Self.command)
        }
        let walk = FaultWalk(configuration: config, phases: walked, bugs: bugs)
        let started = Date()
        let quiet = self.quiet
        let lastLine = Mutex(Date.distantPast)
        let report: FaultWalkReport
        do {
            let progress: @Sendable (Int, Int) -> Void = { done, total in
                guard !quiet else { return }
                let now = Date()
                let due = lastLine.withLock { last -> Bool in
                    guard done == total || now.timeIntervalSince(last) >= 2 else { return false }
                    last = now
                    return true
                }
                if due {
                    let elapsed = Int(now.timeIntervalSince(started))
                    let of = total > 0 ? "/\(total)" : ""
                    CLIReporter.err("svmkit faults walk: \(done)\(of) scenarios done, \(elapsed) s\n")
                }
            }
            report =
                engine == "fork"
                ? try walk.walkForking(shard: slice, jobs: jobs, progress: progress)
                : try walk.walk(shard: slice, jobs: jobs, progress: progress)
        } catch {
            throw BootCLI.fail("\(error)", command: Self.command)
        }
        let text = json ? CLIJSON.text(report) : FaultsSummary.render(report)
        if let output {
            try BootCLI.write(text, to: output, "-o", force: force, command: Self.command)
        } else {
            CLIReporter.out(text)
        }
        if !quiet {
            CLIReporter.err(
                "svmkit faults walk: \(report.scenarios.count) scenarios in \(Int(Date().timeIntervalSince(started))) s\n")
        }
        if report.fails { throw CLIExit.failure }
    }

    /// `--phases`: a comma-separated subset of boot, io, kexec.
    static func phases(_ text: String) throws(ExitCode) -> Set<FaultWalkPhase> {
        var out = Set<FaultWalkPhase>()
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let p = FaultWalkPhase(rawValue: String(name)) else {
                throw BootCLI.fail("--phases \(text): \"\(name)\" is not boot, io or kexec", command: command)
            }
            out.insert(p)
        }
        return out
    }
}
