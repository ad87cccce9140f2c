public import PEFMachine
import PowerABI
import SWIOTLB
import Locking
import Synchronization

/// Where a ``GuestKernel`` is in its life.
public enum GuestKernelPhase: Hashable, Sendable, CustomStringConvertible {
    /// Built, not started.
    case created
    /// Inside ``GuestKernel/start(processors:fdtAddress:kernelBase:)``.
    case booting
    /// Booted: workloads may run.
    case running
    /// It kexec'ed into the next kernel and is gone.
    case kexeced(KexecKind)
    /// `start` failed; build a new kernel to try again.
    case failed(reason: String)
    /// A CPU spins for ever with interrupts off (e.g. 6.1's `swiotlb_do_find_slots()`,
    /// ``GuestKernel/swiotlbHang``): the kernel does nothing more.
    case hung(reason: String)

    /// In words.
    public var description: String {
        switch self {
        case .created: "created"
        case .booting: "booting"
        case .running: "running"
        case .kexeced(let k): "kexec'ed (\(k.rawValue))"
        case .failed(let why): "failed to boot: \(why)"
        case .hung(let why): "hung: \(why)"
        }
    }
}

/// The guest kernel after prom_init: what a pseries Linux kernel does between
/// `early_setup()` and `init` that matters to a Secure Virtual Machine
/// (reference/linux-guest-facts.md §1.2–1.9, §2).
///
/// ```swift
/// let kernel = GuestKernel(machine: machine)
/// let report = try kernel.start(fdtAddress: fdt, kernelBase: kbase)   // after prom_init
/// let disk = try kernel.probeVirtualBlockDevice()
/// try disk.write(sector: 0, from: buffer, byteCount: 1 << 20)
/// let kexec = kernel.kexec(.normal)             // then build the next kernel and start it
/// ```
///
/// The kernel reaches firmware only through its vCPUs (`sc 1`, `sc 2`) and guest
/// memory, as the ARCHITECTURE's one rule demands; it never sees the Ultravisor or
/// the hypervisor objects, nor the machine's page-state table (PEFMachine keeps those
/// behind `@_spi(Firmware)`). Audits and diagnoses are observers outside the guest
/// (SVMKit's `GuestKernel.audit(_:)` and `diagnose()`): the kernel only exports its
/// ledger, memblock and the faults it noticed itself.
///
/// All state is behind one mutex; no lock is held while the kernel makes a call.
public final class GuestKernel: Sendable {
    /// The machine the kernel runs on.
    public let machine: Machine
    /// How it was built.
    public let options: GuestKernelOptions

    let state: Lock<KernelState>

    /// Bounce mappings released so far (each successful unmap of a bounce address): what
    /// a block request requeued for a full pool waits on (``waitForBounceRelease(since:timeout:)``).
    let bounceReleases = Atomic<UInt64>(0)

    /// An observer's probe outside the guest: given a failed `UV_SHARE_PAGE` call's
    /// frames (first, count), the ones the call left private. Only bookkeeping
    /// (``SharedPageLedger/failedShares``) uses the answer; the guest never acts on it.
    public typealias PagesLeftPrivateProbe = @Sendable (GuestFrameNumber, UInt64) -> [GuestFrameNumber]

    /// The observer's probe for ``SharedPageLedger/failedShares`` (`nil`: nothing recorded).
    let pagesLeftPrivate: PagesLeftPrivateProbe?

    /// A kernel for `machine`, not started yet. `log` is the log so far (what prom_init
    /// printed), which the kernel continues. `pagesLeftPrivate` is an observer's probe
    /// (see ``PagesLeftPrivateProbe``).
    public init(
        machine: Machine, options: GuestKernelOptions = GuestKernelOptions(), log: KernelLog = KernelLog(),
        pagesLeftPrivate: PagesLeftPrivateProbe? = nil
    ) {
        self.machine = machine
        self.options = options
        self.pagesLeftPrivate = pagesLeftPrivate
        var initial = KernelState()
        initial.log = log
        self.state = Lock(initial)
    }

    // MARK: Inspection

    /// Where the kernel is in its life.
    public var phase: GuestKernelPhase { state.withLock { $0.phase } }

    /// The kernel log so far.
    public var log: KernelLog { state.withLock { $0.log } }

    /// Every page the kernel shared and has not unshared, with owner and call site.
    public var ledger: SharedPageLedger { state.withLock { $0.ledger } }

    /// Models `is_secure_guest()`: reads MSR(S) of the boot vCPU now; nothing is
    /// cached (reference/linux-guest-facts.md §1.0).
    public var isSecureGuest: Bool {
        (state.withLock { $0.processors.first } ?? machine.bootProcessor).isSecure
    }

    /// `num_possible_cpus()` as `smp_setup_cpu_maps()` derived it (0 before start).
    public var possibleCPUs: Int { state.withLock { $0.possibleCPUs } }

    /// The vCPUs the kernel runs on (empty before start).
    public var processors: [VirtualProcessor] { state.withLock { $0.processors } }

    /// The early allocator's view of memory (nil before start).
    public var memblock: Memblock? { state.withLock { $0.memblock } }

    /// What the device tree said (nil before start).
    public var deviceTree: DeviceTreeBootInfo? { state.withLock { $0.boot } }

    /// The default SWIOTLB pool, if the kernel made one.
    public var swiotlbPool: SWIOTLBPool? { state.withLock { $0.pool } }

    /// The map on which the kernel's SWIOTLB search spun for ever (6.1), if one did.
    public var swiotlbHang: SWIOTLBScanHang? { state.withLock { $0.swiotlbHang } }

    /// The growing pool around ``swiotlbPool`` when the kernel is built with
    /// ``GuestKernelOptions/swiotlbDynamic``.
    public var swiotlbDynamicPool: SWIOTLBDynamicPool? { state.withLock { $0.dynamicPool } }

    /// The guest-physical address of each vCPU's LPPACA (VPA), by vCPU.
    public var lppacaAddresses: [GuestPhysicalAddress] { state.withLock { $0.lppacas.map { GuestPhysicalAddress($0) } } }

    /// The shared LPPACA region (secure guests only).
    public var sharedLPPACARegion: SharedLPPACARegion? { state.withLock { $0.lppacaRegion } }

    /// The guest-physical address of each vCPU's DTL buffer (`nil` where none).
    public var dispatchTraceLogAddresses: [GuestPhysicalAddress?] {
        state.withLock { $0.dtls.map { $0.map { GuestPhysicalAddress($0) } } }
    }

    /// The IPI mechanism `pSeries_smp_probe()` chose (nil before start).
    public var ipiChoice: IPIChoice? { state.withLock { $0.ipi } }

    /// Mistakes the kernel itself noticed (SWIOTLB misuse, refused registrations),
    /// oldest first. An observer's diagnosis adds the machine's records.
    public var faults: [GuestFault] { state.withLock { $0.faults } }

    /// `UV_SHARE_PAGE` calls the kernel made, by owner.
    public var shareCalls: [SharedPageOwner: Int] { state.withLock { $0.shareCalls } }

    /// The last call site that unshared each frame (to name who pulled a page from
    /// under the hypervisor).
    public var unshareCallSites: [GuestFrameNumber: String] { state.withLock { $0.unsharedBy } }
    /// Whether dma-direct bounces every streaming mapping now (`force_bounce`, or 5.x's
    /// `swiotlb_force` set by `init_svm()`).
    public var dmaForcedBounce: Bool { state.withLock { $0.forceBounce } }

    /// DMA counters.
    public var dmaStatistics: DMAStatistics { state.withLock { $0.dma } }

    // MARK: Internals

    /// `printk`: one line at the machine's simulated time.
    func printk(_ message: String) {
        let now = machine.clock.seconds
        state.withLock { $0.log.print(message, at: now) }
    }

    /// Records a fault and logs its line.
    func record(_ fault: GuestFault) {
        let now = machine.clock.seconds
        state.withLock { s in
            s.faults.append(fault)
            s.log.print(fault.logLine, at: now)
        }
    }

    /// The vCPU for Linux CPU `cpu` (the boot vCPU if out of range).
    func processor(_ cpu: Int) -> VirtualProcessor {
        state.withLock { s in s.processors.indices.contains(cpu) ? s.processors[cpu] : s.processors.first }
            ?? machine.bootProcessor
    }

    /// Whether `[address, address + count)` lies in the RAM the device tree's `/memory`
    /// gave the kernel (nothing before start).
    func isInRAM(_ address: UInt64, count: UInt64) -> Bool {
        let (end, overflow) = address.addingReportingOverflow(count)
        return !overflow && end <= state.withLock { $0.memoryBytes }
    }

    /// Throws unless the kernel is running.
    func requireRunning() throws(GuestKernelError) {
        let phase = state.withLock { $0.phase }
        guard phase == .running else { throw .notRunning(phase: phase.description) }
    }
}

/// Everything the kernel keeps, behind its mutex.
struct KernelState: Sendable {
    var phase: GuestKernelPhase = .created
    var log = KernelLog()
    var ledger = SharedPageLedger()
    var memblock: Memblock?
    var boot: DeviceTreeBootInfo?
    var processors: [VirtualProcessor] = []
    /// `num_possible_cpus()` after `smp_setup_cpu_maps()`.
    var possibleCPUs = 0
    var commandLine = ""
    var lppacas: [UInt64] = []
    var lppacaRegion: SharedLPPACARegion?
    var dtls: [UInt64?] = []
    /// `dtl_page_store`: backing pages the `dtl` cache constructor stored (and tried
    /// to share).
    var dtlSharedPages: Set<GuestFrameNumber> = []
    /// Per-CPU read index into the DTL (`dtl_ridx`).
    var dtlReadIndex: [UInt64] = []
    /// Per-CPU stolen time read from the DTL, in timebase ticks.
    var stolenTicks: [UInt64] = []
    var pool: SWIOTLBPool?
    /// 6.1's endless slot search, when a map hit it (the kernel is then ``GuestKernelPhase/hung(reason:)``).
    var swiotlbHang: SWIOTLBScanHang?
    /// The default pool wrapped for growth (``GuestKernelOptions/swiotlbDynamic``).
    var dynamicPool: SWIOTLBDynamicPool?
    /// dma-direct bounces every streaming mapping: `io_tlb_default_mem.force_bounce`
    /// (`swiotlb=force`, latched at pool set-up) or, on 5.x, `init_svm()`'s
    /// `swiotlb_force`.
    var forceBounce = false
    /// "Memory encryption is active …" was printed.
    var bounceAnnounced = false
    /// The rate limit of "swiotlb buffer is full" (`dev_warn_ratelimited()`'s static state).
    var swiotlbFullRatelimit = KernelRatelimit()
    /// The rate limit of "Can not allocate SWIOTLB buffer earlier …" (its own call site).
    var swiotlbNoPoolRatelimit = KernelRatelimit()
    /// Live dma-coherent allocations: address → size.
    var coherent: [UInt64: Int] = [:]
    /// Block devices the kernel set up: unit address → queue page.
    var blockQueues: [UInt32: UInt64] = [:]
    var ipi: IPIChoice?
    var faults: [GuestFault] = []
    var shareCalls: [SharedPageOwner: Int] = [:]
    var unshareCalls = 0
    var dma = DMAStatistics()
    var vpaFailures: [RegistrationFailure] = []
    var dtlFailures: [RegistrationFailure] = []
    /// The last call site that unshared each frame (to name who pulled a page from
    /// under the hypervisor).
    var unsharedBy: [GuestFrameNumber: String] = [:]
    /// RAM from the device tree's `/memory` (`memblock_phys_mem_size()`).
    var memoryBytes: UInt64 = 0
    /// The page holding the RTAS argument block (`rtas_args`).
    var rtasArgs: UInt64?
    /// `ppc_swiotlb_enable`: set by `init_svm()` on a secure guest, read by
    /// `check_swiotlb_enabled()`.
    var ppcSwiotlbEnable = false
    /// CPUs whose LPPACA has `dtl_enable_mask` set (`register_dtl_buffer()` ran).
    var dtlEnableMask: Set<Int> = []
    /// `dtl_nr_pages`: how many pages `dtl_page_store` holds.
    var dtlPageStoreCount = 0
}
