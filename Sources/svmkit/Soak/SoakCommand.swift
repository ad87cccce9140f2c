import ArgumentParser
import Foundation
import SVMKit
import SWIOTLB
import SVMKitSoak

/// `svmkit soak`: a seeded load scenario on a secure guest (issue 8 item 5).
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run a seeded soak on a secure guest: DMA through SWIOTLB, share/unshare churn, kexec cycles, invariants.",
        discussion: """
            Boots a secure guest (svm=on swiotlb=force, or --cmdline; --linux picks the kernel \
            series, --dma-path the disks' DMA ops, --disk their driver) with one virtual disk \
            per vCPU, then runs kexec \
            cycles until --seconds pass or --operations are done. In each cycle one thread per \
            vCPU runs a seeded mix of operations: block writes and reads of random sizes and \
            sectors (bounced through the shared SWIOTLB pool; every sector checked against \
            the checksum of what was written, across kexecs), bidirectional mappings with \
            syncs, set_memory_decrypted/encrypted churn (checking what the hypervisor can and \
            cannot see), hypervisor page-outs (it must get ciphertext) and dma-coherent \
            allocations. After each cycle: pool, ledger and audit checks and the machine's \
            invariants; then a kexec (normal, or about one in eight a crash kexec) and the \
            next kernel's checks.

            --disk nvme drives the disks as Linux's NVMe driver does (min_align_mask 0xfff, one \
            segment per request, max_hw_sectors 504 with a forced pool) and does direct I/O \
            from buffers at random 512-byte offsets. On --linux 6.1 that reaches 6.1's endless \
            SWIOTLB slot search (swiotlb_do_find_slots(), fixed in v6.3 by 7c3940bf81e5) once \
            an area of the pool is nearly full: the guest hangs, the failure (kind hang) and \
            --json's hang name the map and the fix. With the default 64 MiB pool the soak's \
            load (one request in flight per vCPU) does not fill an area; a small pool does, \
            e.g. --cmdline "svm=on swiotlb=1024,force console=hvc0" (within seconds).

            A map that finds the bounce pool full is not a failure: as in Linux, the disk \
            driver returns BLK_STS_RESOURCE and the request is requeued, then mapped again \
            once other mappings are released (the summary's and --json's requeues count \
            them; the soak's bidirectional mappings are retried the same way). A request \
            that can never be mapped (it fits no pool, or nothing releases a slot for 10 s) \
            is a failure of kind stall: Linux would requeue it for ever and the task would \
            hang; the message names the request, the pool and a bigger swiotlb=.

            The same seed gives the same operations on each vCPU (threads interleave). The \
            first failure stops the run and is printed with the seed, cycle, vCPU and \
            operation number, and a command line that runs the same operations again.

            Exit status: 0 when nothing failed (no checksum mismatch, invariant failure, \
            isolation violation, failed operation, hang or stall; requeues are not \
            failures); 1 otherwise; 2 for bad input.

            Examples:
              svmkit soak --seconds 60 --seed 7
              svmkit soak --operations 2000 --cpus 2 --memory 512M --json
              svmkit soak --seconds 600 --progress
              svmkit soak --linux 6.1 --disk nvme --cmdline "svm=on swiotlb=1024,force"
            """)

    @Option(help: "Stop after this many seconds, counted once the guest is secure; at least one operation per vCPU runs (default 10 unless --operations is given).") var seconds: Double?
    @Option(help: "Stop after this many operations in all (deterministic).") var operations: Int?
    @Option(help: "Seed of the operation sequences and of the machine.") var seed: UInt64 = 1
    @Option(help: "vCPUs, one worker thread each.") var cpus: Int = 4
    @Option(help: "Guest RAM, e.g. 512M, 1G.") var memory: String = "1G"
    @Option(
        help: ArgumentHelp(
            "Kernel command line of the guest (default: svm=on swiotlb=force console=hvc0); it must ask for svm=on. E.g. \"svm=on swiotlb=1024,force console=hvc0\" for a 2 MiB bounce pool.",
            valueName: "line"))
    var cmdline: String?
    @Option(name: .customLong("ops-per-cycle"), help: "Operations per vCPU between two kexecs.") var opsPerCycle: Int = 64
    @Option(name: .customLong("crash-fraction"), help: "Share of kexecs that are crash kexecs (0 to 1).")
    var crashFraction: Double = 0.125
    @Option(
        help: """
            Inject faults into ultracalls and hypercalls, as boot --faults does, e.g. guest:UV_SHARE_PAGE@40=U_P2. \
            The guest ignores share and unshare statuses as Linux does; what that changes is \
            counted as a Linux finding, not a failure.
            """)
    var faults: String?
    @Flag(
        name: .customLong("swiotlb-dynamic"),
        help: "Build the guest kernels with CONFIG_SWIOTLB_DYNAMIC (6.6 and later, so --linux 6.12 only; the bounce pool grows when full; idle added pools are unshared and freed).")
    var swiotlbDynamic = false
    @Option(
        name: .customLong("swiotlb-trace"),
        help: ArgumentHelp(
            "Write every SWIOTLB map and unmap to FILE in the replay format, one scenario per kernel (read by svmkit swiotlb advise).",
            valueName: "file"))
    var swiotlbTrace: String?
    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to --swiotlb-trace.") var force = false
    @Flag(help: "Print the report as one JSON object.") var json = false
    @Flag(help: "Print a progress line on standard error every few seconds.") var progress = false
    @Option(name: .customLong("progress-interval"), help: "Seconds between progress lines.") var progressInterval: Double = 5
    @OptionGroup var firmwareOptions: FirmwareOptions
    @OptionGroup var kernelProfile: KernelProfileOptions

    func run() throws {
        var c = SoakConfiguration()
        c.seconds = seconds ?? (operations == nil ? 10 : nil)
        c.operations = operations
        c.seed = seed
        c.cpuCount = cpus
        do {
            c.memoryBytes = try ByteCount.parse(memory, option: "--memory")
        } catch {
            throw Self.fail(error.description)
        }
        // The soak boots a secure guest: a size the boot refuses is bad input, not a soak failure.
        guard c.memoryBytes >= BootImageBuilder.minimumMemory, c.memoryBytes <= GuestMemory.maximumBytes,
            c.memoryBytes % (64 << 10) == 0
        else {
            throw Self.fail("--memory \(memory): guest RAM must be a multiple of 64K from 256M to 16T (e.g. 512M, 1G)")
        }
        try firmwareOptions.apply(to: &c.firmware, command: "soak")
        c.linux = try kernelProfile.version(command: "soak")
        c.dmaPath = try kernelProfile.path(command: "soak")
        c.disk = try kernelProfile.diskKind(command: "soak")
        if let cmdline {
            let line = KernelCommandLine(cmdline)
            guard line.text.utf8.count <= KernelCommandLine.maximumLength, SVMOption(line).enabled else {
                throw Self.fail(
                    "--cmdline \(cmdline): the soak runs a secure guest: the line must ask for svm=on "
                        + "(at most \(KernelCommandLine.maximumLength) bytes)")
            }
            c.commandLine = cmdline
        }
        try KernelProfileOptions.checkDynamic(swiotlbDynamic, series: c.linux, command: "soak")
        if let faults {
            do {
                c.faults = try FaultSpecParser.parse(faults)
            } catch {
                throw Self.fail("--faults \(faults): \(error)")
            }
        }
        try BootCLI.checkOutput(swiotlbTrace, "--swiotlb-trace", force: force, command: "soak")
        c.swiotlbDynamic = swiotlbDynamic
        c.swiotlbTrace = swiotlbTrace.map { _ in SWIOTLBTraceLog() }
        c.operationsPerCycle = opsPerCycle
        c.crashKexecFraction = crashFraction
        guard progressInterval >= 0.1, progressInterval <= 86400 else {
            throw Self.fail("--progress-interval \(progressInterval): expected 0.1 to 86400 seconds")
        }
        let runner: SoakRunner
        do {
            runner = try SoakRunner(configuration: c)
        } catch {
            throw Self.fail(error.description)
        }
        var printer: (@Sendable (SoakReport) -> Void)?
        if progress {
            printer = { r in CLIReporter.err(r.progressLine + "\n") }
        }
        let report = runner.run(progressInterval: progressInterval, progress: printer)
        if let swiotlbTrace, let log = c.swiotlbTrace {
            try BootCLI.write(log.trace.jsonText, to: swiotlbTrace, "--swiotlb-trace", force: force, command: "soak")
        }
        if json {
            BootCLI.printJSON(report)
        } else {
            CLIReporter.out(report.summary + "\n")
        }
        if let first = report.firstFailure {
            CLIReporter.err("svmkit soak: FAILED: \(first)\n  reproduce: \(first.reproduce)\n")
        }
        if !report.passed { throw CLIExit.failure }
    }

    /// Prints `svmkit soak: <message>` to standard error and returns exit status 2 to throw.
    static func fail(_ message: String) -> ExitCode {
        CLIExit.badInput("soak", message)
    }
}
