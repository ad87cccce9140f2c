import ArgumentParser
import Foundation
import SVMKit
import SWIOTLB
import SecureGuest

/// `svmkit boot`: boot a simulated Secure Virtual Machine.
struct BootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot",
        abstract: "Boot a simulated POWER guest and, when svm=on, take it secure through UV_ESM.",
        discussion: """
            With no options, SVMKit makes everything itself: a TPM key (held by the simulated \
            TPM at 0x81800001), a kernel, an initrd with an ESM blob in front of it (lockbox-1 \
            wrapped to that key, a `rootd` attachment), and a pseries device tree; the guest \
            boots with "svm=on swiotlb=force console=hvc0" and goes secure. swiotlb=force is \
            there because Linux 6.1 and 6.12 (--linux; default 6.12) give a secure guest no \
            SWIOTLB bounce pool without it; 5.4 and 5.10 make one anyway. A --cmdline that \
            asks for svm=on without swiotlb=force on such a kernel is warned about on \
            standard error.

            Every boot ends with one block-device round trip (a write, a read back, a \
            comparison) through the virtual disk's DMA path (--dma-path: ddw, virtio-blk-pci \
            behind a DDW window, the default; or tce) and driver (--disk: virtio, the default, \
            or nvme: min_align_mask 0xfff, buffers 0xa00 into their page; on 6.1 a warning \
            says its slot search can hang under load and names the soak that shows it); \
            --no-io-check skips it. Without a \
            bounce pool the disk receives ciphertext, the data read back does not match, \
            and the diagnoses say why.

            The console reads like a kernel log, followed by a summary: secure or not, the \
            UV_ESM result, the os-term message if any, the ESM checks, shared pages by owner, \
            isolation violations, call counts, simulated and wall time. --json prints the \
            summary as one JSON object instead (keys: secure, esmResult, osTerm, esmChecks, \
            sharedPages, isolationViolations, calls, simulatedSeconds, wallSeconds, …, \
            blockDeviceCheck, diagnoses, linux, linuxProfile, swiotlbPool, hang, disk).

            --dma-replay FILE maps and unmaps a recorded stream through the booted guest's \
            dma_map_single(). On --linux 6.1 a stream can reach 6.1's endless slot search \
            (swiotlb_do_find_slots(), fixed in v6.3): the guest hangs, and the summary and \
            --json's hang name the request and the fix (exit 1).

            A hypervisor access to a secure page behaves as on KVM by default: the page is \
            paged out (UV_PAGE_OUT) and the hypervisor sees its ciphertext; the damage shows \
            later (ciphertext on the disk, U_P3 when the page comes back). Each such access \
            is counted in isolationViolations and explained in diagnoses (the page's owner \
            in the guest, the first consequence, the likely cause). --hv-touch stop fails \
            the access at once instead.

            TPM: by default the embedded software TPM holds the wrapping key. With \
            --tpm swtpm:HOST:PORT the key is held only by a running swtpm (the TPM 2.0 \
            emulator QEMU uses) that Scripts/swtpm-provision DIR PORT started and \
            provisioned: --tpm-dir DIR gives its wrapping-key.json (the Ultravisor's \
            ibm,uv-tpm parameters) and tpmrsapubkey.pem (lockbox-1 of the blob SVMKit makes \
            is wrapped to it). The Ultravisor's H_TPM_COMM commands then go to swtpm; if it \
            is not reachable they fail with H_RESOURCE, UV_ESM aborts at lockbox-1 and the \
            guest terminates (exit 1; the cause is printed on standard error).

            Exit status: 0 when the guest ends where the command line asked (secure for \
            svm=on, normal otherwise), every invariant holds and no fault was found in the \
            guest's behaviour; 1 when UV_ESM failed and the guest terminated, an invariant \
            failed, a fault was found (a --faults failure the guest reported, a --bug \
            caught), or the guest hung; 2 for bad input, with a message naming it; 64 for command-line syntax \
            errors.

            Examples:
              svmkit boot
              svmkit boot --cmdline "svm=off console=hvc0"
              svmkit boot --cmdline "svm=on console=hvc0"     # 6.12: no pool
              svmkit boot --linux 5.10 --cmdline "svm=on console=hvc0"
              svmkit boot --memory 16G --cpus 8 --json
              svmkit boot --fdt qemu.dtb --kernel vmlinux.bin --initrd initrd.img \\
                  --tpm-key tpm.pem
              svmkit boot --esm-check warn --cmdline "svm=on  console=hvc0"   # warn mode
              svmkit boot --trace trace.jsonl --seed 7
              Scripts/swtpm-provision /tmp/tpm 2321
              svmkit boot --tpm swtpm:127.0.0.1:2321 --tpm-dir /tmp/tpm
              svmkit boot --bug skip-lppaca-share    # caught, culprit named
              svmkit boot --bug skip-bounce-pool-share --hv-touch stop
              svmkit boot --firmware open-power      # the public firmware
            """)

    @OptionGroup var inputs: BootInputOptions
    @Flag(name: .customLong("no-io-check"), help: "Skip the block-device round trip that ends every boot.")
    var noIOCheck = false
    @Option(help: "Write every call as JSON lines to FILE.") var trace: String?
    @Option(help: "Write the boot as Chrome trace-event JSON (open in ui.perfetto.dev): lanes per vCPU, Ultravisor, hypervisor.")
    var timeline: String?
    @Option(name: .customLong("memory-map"), help: "Draw guest memory by page state and owner as SVG.")
    var memoryMap: String?
    @Option(help: "After boot, kexec: normal (UV_UNSHARE_ALL_PAGES first) or crash (shares left in place); the next kernel boots and both audits are reported.")
    var kexec: String?
    @Option(help: ArgumentHelp(
        "Inject faults into ultracalls and hypercalls, e.g. UV_SHARE_PAGE@2=U_P2,uv:H_SVM_PAGE_IN@*=H_BUSY.",
        discussion: "OPCODE@N (the Nth call), @* (every call) or @P% (a seeded fraction) = a status name; add :after=K to stop a share range after K pages; prefix guest:, uv: or hv: to pick the caller."))
    var faults: String?
    @Option(
        name: .customLong("bug"),
        help: ArgumentHelp(
            "Boot a deliberately buggy guest (repeatable): \(GuestBug.allCases.map(\.rawValue).joined(separator: ", ")).",
            discussion: "Each bug must be caught and its culprit named in the summary; the run exits 1. The DMA bugs run one block-device round trip after boot.",
            valueName: "name"))
    var bug: [String] = []
    @Flag(
        name: .customLong("swiotlb-dynamic"),
        help: "Build the guest kernel with CONFIG_SWIOTLB_DYNAMIC (6.6 and later, so --linux 6.12 only): a full bounce pool grows by a pool of the default size, shared in one UV_SHARE_PAGE, unshared and freed when idle.")
    var swiotlbDynamic = false
    @Option(
        name: .customLong("swiotlb-trace"),
        help: ArgumentHelp(
            "Write every SWIOTLB map and unmap to FILE in the replay format (read by svmkit swiotlb advise and replay).",
            discussion: "The boot then runs one block-device round trip, so the trace holds the kernel's DMA.",
            valueName: "file"))
    var swiotlbTrace: String?
    @Option(
        name: .customLong("dma-replay"),
        help: ArgumentHelp(
            "After boot, replay the map/unmap stream in FILE (the --swiotlb-trace format, first scenario) through the guest's dma_map_single()/dma_unmap_single().",
            discussion: "The guest's own pool serves the maps; e.g. the stream on which Linux 6.1's slot search hangs.",
            valueName: "file"))
    var dmaReplay: String?
    @Flag(help: "Print the summary as JSON instead of the console.") var json = false
    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to --trace, --timeline, --memory-map or --swiotlb-trace.")
    var force = false

    /// Guests at least this large show a progress line on a terminal while they boot.
    static let progressMemory: UInt64 = 64 << 30

    func run() throws {
        try BootCLI.checkOutput(trace, "--trace", force: force)
        try BootCLI.checkOutput(timeline, "--timeline", force: force)
        try BootCLI.checkOutput(memoryMap, "--memory-map", force: force)
        try BootCLI.checkOutput(swiotlbTrace, "--swiotlb-trace", force: force)
        let config = try inputs.makeConfiguration()
        try KernelProfileOptions.checkDynamic(swiotlbDynamic, series: config.linux, command: "boot")
        let replay = try dmaReplay.map(Self.readReplay)
        if let warning = SwiotlbPreflight.warning(commandLine: config.commandLine, linux: [config.linux]) {
            CLIReporter.err("svmkit boot: warning: \(warning)\n")
        }
        if let warning = SwiotlbPreflight.scanHangWarning(linux: config.linux, disk: config.disk) {
            CLIReporter.err("svmkit boot: warning: \(warning)\n")
        }
        let bugs = try guestBugs()
        let kexecKind = try kexec.map { (k: String) throws(ExitCode) -> KexecKind in
            guard let kind = KexecKind(rawValue: k) else { throw BootCLI.fail("--kexec \(k): expected normal or crash") }
            return kind
        }
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: config, faults: try faultRules())
        } catch {
            throw BootCLI.fail("\(error)")
        }
        if let replay, let file = dmaReplay,
            let (op, map) = DMAReplayResult.opOutsideRAM(in: replay, ramBytes: vm.machine.memory.byteCount)
        {
            throw BootCLI.fail(
                "--dma-replay \(file): op \(op) maps \(map.size) bytes at 0x\(String(map.origAddr, radix: 16)), outside the "
                    + "guest's \(ByteCount.describe(vm.machine.memory.byteCount)) of RAM (--memory, or --fdt's /memory)")
        }
        // A large guest takes a while to go secure: say so on a terminal.
        let showProgress = config.memoryBytes >= Self.progressMemory && config.deviceTree == nil
        if showProgress { CLIReporter.progress("svmkit boot: taking a \(ByteCount.describe(config.memoryBytes)) guest secure…", json: json) }
        let swiotlbLog = swiotlbTrace.map { _ in SWIOTLBTraceLog() }
        var report = vm.boot(
            kernelOptions: GuestKernelOptions(swiotlbDynamic: swiotlbDynamic, swiotlbTrace: swiotlbLog), bugs: bugs)
        if showProgress { CLIReporter.endProgress(json: json) }
        if let replay, vm.kernel?.phase == .running {
            let result = vm.replayDMA(replay)
            CLIReporter.err("svmkit boot: --dma-replay: \(result)\n")
            report = vm.report(wallSeconds: report.wallSeconds)
        }
        if bugs.contains(where: \.needsDMA) || swiotlbLog != nil || (!noIOCheck && vm.kernel?.phase == .running) {
            vm.exerciseBlockDevice()
            report = vm.report(wallSeconds: report.wallSeconds)
        }
        if let kexecKind { report = vm.kexec(kexecKind) }
        if let trace { try BootCLI.write(vm.machine.trace.jsonLines(), to: trace, "--trace", force: force) }
        if let timeline {
            try BootCLI.write(ChromeTraceTimeline.json(vm.machine.trace.records), to: timeline, "--timeline", force: force)
        }
        if let swiotlbTrace, let swiotlbLog {
            try BootCLI.write(swiotlbLog.trace.jsonText, to: swiotlbTrace, "--swiotlb-trace", force: force)
        }
        if let memoryMap {
            try BootCLI.write(vm.memoryMapSVG(), to: memoryMap, "--memory-map", force: force)
        }
        var tpmFailure: String?
        if let external = config.tpm.external, let failure = vm.tpmActivity.failures.first {
            // The Ultravisor saw only H_RESOURCE; say what the hypervisor's backend saw.
            tpmFailure = "TPM \(external.label): \(failure)"
            CLIReporter.err("svmkit boot: TPM \(external.label): \(failure)\n")
        }
        if json {
            BootCLI.printJSON(BootJSON(report: report, tpmFailure: tpmFailure))
        } else {
            CLIReporter.out(BootConsole.render(report, image: vm.image) + "\n")
        }
        if !report.endedAsRequested { throw CLIExit.failure }
    }

    /// The first scenario of a replay trace that `dma_map_single()` can express.
    static func readReplay(_ file: String) throws(ExitCode) -> SWIOTLBReplayScenario {
        let trace: SWIOTLBReplayTrace
        do {
            trace = try SWIOTLBReplayTrace(json: try CLIInput.read(file, limit: CLIInput.Limit.blob, what: "a trace"))
        } catch {
            throw BootCLI.fail("--dma-replay \(file): \(error)")
        }
        guard let scenario = trace.scenarios.first else { throw BootCLI.fail("--dma-replay \(file): no scenario") }
        if let op = DMAReplayResult.unreachableOp(in: scenario) {
            throw BootCLI.fail(
                "--dma-replay \(file): op \(op) has an alloc_align_mask, which dma_map_single() cannot pass")
        }
        return scenario
    }

    func guestBugs() throws(ExitCode) -> Set<GuestBug> {
        var out = Set<GuestBug>()
        for name in bug {
            guard let b = GuestBug(rawValue: name) else {
                throw BootCLI.fail("--bug \(name): expected one of " + GuestBug.allCases.map(\.rawValue).joined(separator: ", "))
            }
            out.insert(b)
        }
        return out
    }

    func faultRules() throws(BootError) -> [FaultRule] {
        guard let faults else { return [] }
        do { return try FaultSpecParser.parse(faults) } catch { throw BootError(input: "--faults \(faults)", "\(error)") }
    }
}
