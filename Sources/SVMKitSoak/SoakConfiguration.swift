import SVMKit
@_spi(Firmware) public import PEFMachine
public import SecureGuest
public import SWIOTLB

/// What a soak runs: the guest, the limits, the mix, and any deliberate breakage.
///
/// A soak boots one secure guest and then runs kexec cycles until ``seconds`` pass
/// or ``operations`` operations are done (whichever comes first; at least one of
/// the two must be set). In each cycle one thread per vCPU runs a seeded sequence of
/// ``SoakOperationKind`` operations; then the runner checks every invariant and
/// kexecs into the next kernel (normal, or now and then a crash kexec).
///
/// Each vCPU's operation sequence in a cycle comes from its own generator seeded
/// with (``seed``, cycle, vCPU), so the same seed gives the same operations whatever
/// the threads' interleaving; only the order between threads varies.
public struct SoakConfiguration: Hashable, Sendable {
    /// Stop after this many seconds of wall time counted from the first secure boot
    /// (`--seconds`); the first cycle runs at least one operation per vCPU however short
    /// the limit. `nil` for no time limit.
    public var seconds: Double? = 10
    /// Stop after this many operations in all (`--operations`); `nil` for no count
    /// limit. A count-limited soak is fully deterministic: the last cycle's share is
    /// split evenly between the vCPUs.
    public var operations: Int?
    /// The seed of every operation sequence and of the machine (`--seed`).
    public var seed: UInt64 = 1
    /// vCPUs, one worker thread each (`--cpus`).
    public var cpuCount: Int = 4
    /// Guest RAM (`--memory`).
    public var memoryBytes: UInt64 = 1 << 30
    /// Operations each vCPU runs between two kexecs (`--ops-per-cycle`).
    public var operationsPerCycle: Int = 64
    /// The share of kexecs that are crash kexecs, the rest being normal ones (`--crash-fraction`).
    public var crashKexecFraction: Double = 0.125
    /// The size of each vCPU's virtual disk; every vCPU drives its own
    /// `VirtualBlockDevice`, so the checksums of one disk are one thread's.
    public var diskBytes: UInt64 = 16 << 20
    /// The largest block transfer (a multiple of 512).
    public var maximumTransferBytes: Int = 1 << 20
    /// Pages each vCPU churns between shared and private in a cycle.
    public var churnPages: Int = 8
    /// The kernel command line of the guest (default
    /// ``BootConfiguration/defaultCommandLine``, with `swiotlb=force`).
    public var commandLine: String = BootConfiguration.defaultCommandLine
    /// Which Linux series the guest behaves as (`--linux`; default 6.12).
    public var linux: LinuxVersion = .newest
    /// Which DMA ops the virtual disks get (`--dma-path`).
    public var dmaPath: DMAPath = .ddwBypass
    /// Which Linux driver the virtual disks have (`--disk`). With `VirtualDiskKind.nvme`
    /// block transfers are direct I/O from a buffer at a random 512-byte offset in its
    /// controller page (``directIOOffsets``), as the NVMe driver accepts them, so the
    /// device's `min_align_mask` decides where they bounce.
    public var disk: VirtualDiskKind = .virtio
    /// The TPM key (PEM); `nil` makes a fresh one, as `svmkit boot` does.
    public var tpmKeyPEM: String?
    /// Deliberate breakage, to show the soak catches it (tests, demonstrations).
    public var injections: [SoakInjection] = []
    /// The guest's boot settings `--firmware`, `--hv-touch` and `--esm-check` take
    /// (only these three are used; see `BootConfiguration`).
    public var firmware: BootConfiguration = BootConfiguration()
    /// Faults injected into the machine's ultracalls and hypercalls (as `svmkit boot
    /// --faults`). A share or unshare status the guest ignores, as Linux does, makes the
    /// guest's belief and the Ultravisor's page states differ: the soak counts that as
    /// a finding about Linux (``SoakReport/linuxFindings``), never as a failure.
    public var faults: [FaultRule] = []

    /// Build the guest kernels with `CONFIG_SWIOTLB_DYNAMIC` (`--swiotlb-dynamic`,
    /// `GuestKernelOptions.swiotlbDynamic`).
    public var swiotlbDynamic = false
    /// Records every kernel's SWIOTLB maps and unmaps (`--swiotlb-trace FILE`), one
    /// scenario per kernel (`GuestKernelOptions.swiotlbTrace`).
    public var swiotlbTrace: SWIOTLBTraceLog?

    /// The offsets in its 4 KiB controller page a block transfer's buffer may start at
    /// with ``disk`` (one is drawn per transfer): 0 for virtio-blk (page-aligned
    /// buffers, as before); every multiple of 512 below 4 KiB for NVMe, the buffers of
    /// direct I/O with 512-byte logical blocks (the NVMe queue's `dma_alignment` is 3,
    /// `drivers/nvme/host/core.c: nvme_set_queue_limits (6.1)`).
    public var directIOOffsets: [Int] {
        disk == .nvme ? Array(stride(from: 0, to: VirtualDiskKind.nvmeControllerPageSize, by: 512)) : [0]
    }

    /// The longest time limit accepted: 30 days.
    public static let longestSoak: Double = 30 * 86400

    /// The defaults: 10 seconds, seed 1, 4 vCPUs, 1 GiB, 64 operations per vCPU and cycle.
    public init() {}

    /// Whether the configuration can run, or what is wrong with it (naming the option).
    public func validate() throws(SoakConfigurationError) {
        if seconds == nil && operations == nil {
            throw SoakConfigurationError(option: "--seconds/--operations", reason: "give a time or an operation limit")
        }
        if let s = seconds, !(0...Self.longestSoak).contains(s) {
            throw SoakConfigurationError(option: "--seconds", reason: "\(s): expected 0 to \(Int(Self.longestSoak)) seconds")
        }
        if let n = operations, n < 0 { throw SoakConfigurationError(option: "--operations", reason: "\(n) is negative") }
        guard (1...256).contains(cpuCount) else {
            throw SoakConfigurationError(option: "--cpus", reason: "\(cpuCount): expected 1 to 256")
        }
        guard operationsPerCycle >= 1 else {
            throw SoakConfigurationError(option: "--ops-per-cycle", reason: "\(operationsPerCycle): must be at least 1")
        }
        guard (0...1).contains(crashKexecFraction) else {
            throw SoakConfigurationError(option: "--crash-fraction", reason: "\(crashKexecFraction): expected 0 to 1")
        }
        guard maximumTransferBytes >= 512, maximumTransferBytes % 512 == 0 else {
            throw SoakConfigurationError(
                option: "maximum transfer", reason: "\(maximumTransferBytes): expected a positive multiple of 512")
        }
        guard diskBytes >= UInt64(maximumTransferBytes), diskBytes % 512 == 0 else {
            throw SoakConfigurationError(
                option: "disk size", reason: "\(diskBytes): expected a multiple of 512 of at least the largest transfer")
        }
        guard churnPages >= 1 else {
            throw SoakConfigurationError(option: "churn pages", reason: "\(churnPages): must be at least 1")
        }
    }

    /// `text` as one POSIX shell word: in single quotes, each `'` written `'\''` (a
    /// kernel command line may hold quotes and spaces, e.g. `foo="a b"`).
    static func shellQuoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// The `svmkit soak` command line that runs the same operations up to the end of
    /// `cycle` (count-limited, so it stops in the same place): every option that changes
    /// what the guest does, with the command line quoted for a POSIX shell.
    public func reproduction(throughCycle cycle: Int) -> String {
        // Exact: a size that is not a whole number of MiB is given in bytes.
        let memory = memoryBytes % (1 << 20) == 0 ? "\(memoryBytes >> 20)M" : "\(memoryBytes)"
        var s = "svmkit soak --seed \(seed) --cpus \(cpuCount) --memory \(memory)"
        let defaults = SoakConfiguration()
        if operationsPerCycle != defaults.operationsPerCycle { s += " --ops-per-cycle \(operationsPerCycle)" }
        if crashKexecFraction != defaults.crashKexecFraction { s += " --crash-fraction \(crashKexecFraction)" }
        if !faults.isEmpty { s += " --faults " + faults.map(\.description).joined(separator: ",") }
        if linux != defaults.linux { s += " --linux \(linux)" }
        if dmaPath != defaults.dmaPath { s += " --dma-path \(dmaPath)" }
        if disk != defaults.disk { s += " --disk \(disk)" }
        if swiotlbDynamic { s += " --swiotlb-dynamic" }
        if firmware.firmware != defaults.firmware.firmware { s += " --firmware \(firmware.firmware.rawValue)" }
        if firmware.hypervisorTouch != defaults.firmware.hypervisorTouch {
            s += " --hv-touch \(firmware.hypervisorTouch.rawValue)"
        }
        if let policy = firmware.esmCheckPolicy { s += " --esm-check \(policy.rawValue)" }
        if commandLine != defaults.commandLine { s += " --cmdline " + Self.shellQuoted(commandLine) }
        let done = (cycle + 1) * operationsPerCycle * cpuCount
        return s + " --operations \(operations.map { min($0, done) } ?? done)"
    }
}

/// A soak configuration that cannot run; names the option.
public struct SoakConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The option or field at fault, e.g. `--cpus`.
    public let option: String
    /// What is wrong with it.
    public let reason: String

    /// e.g. `--cpus 0: expected 1 to 256`.
    public var description: String { "\(option): \(reason)" }
}
