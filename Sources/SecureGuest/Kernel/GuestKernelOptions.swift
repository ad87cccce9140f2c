public import PowerABI
public import SWIOTLB

/// How a ``GuestKernel`` is built: the configuration choices Linux makes at compile
/// or boot time that matter to a secure guest, and the hooks that turn it into a
/// deliberately buggy guest (``GuestBug``).
public struct GuestKernelOptions: Hashable, Sendable {
    /// The kernel command line; `nil` reads `/chosen/bootargs` from the device tree
    /// (`early_init_dt_scan_chosen()`). Only `swiotlb=` is acted on here.
    public var commandLine: String?
    /// Which hypervisor the guest runs under, for `pSeries_smp_probe()`'s doorbell
    /// choice; `nil` asks the device tree (`/hypervisor` compatible `linux,kvm`, as
    /// `check_kvm_guest()` does) and, when the tree has no `/hypervisor` node, assumes
    /// KVM, since SVMKit's hypervisor is a simulated KVM/QEMU.
    public var hypervisor: HypervisorPlatform?
    /// Register a Dispatch Trace Log per vCPU at boot, as a kernel with
    /// `CONFIG_VIRT_CPU_ACCOUNTING_NATIVE` does on a shared-processor LPAR
    /// (`alloc_dispatch_logs()`).
    public var dispatchTraceLogs: Bool
    /// The kernel image size to reserve when `/chosen/qemu,boot-kernel` does not give it.
    public var kernelSize: UInt64
    /// Deliberate bugs (issue 8's buggy guests); none by default.
    public var bugs: Set<GuestBug>
    /// The guest-physical address ``GuestBug/touchImplicitPage`` reads at the end of
    /// boot. The guest cannot tell which pages the Ultravisor shared implicitly, so
    /// whoever turns the bug on supplies one (SVMKit's boot: the lowest
    /// `SHARED_IMPLICIT` page after `UV_ESM`); `nil` leaves that bug without effect.
    public var touchAfterBootAddress: GuestPhysicalAddress?
    /// `CONFIG_NR_CPUS` (2048 in `arch/powerpc/configs/ppc64_defconfig` (6.12)):
    /// `nr_cpu_ids` until the device tree has been read. It sizes the shared LPPACA
    /// region (allocated for the boot CPU in `early_setup()`, before
    /// `smp_setup_cpu_maps()` lowers `nr_cpu_ids`), caps the possible CPUs, and sets
    /// `NR_DTL_PAGE` (`DISPATCH_LOG_BYTES × NR_CPUS / PAGE_SIZE`). Kconfig's range,
    /// 1 to 8192, is enforced where it is used.
    public var nrCPUs: Int
    /// Memory the kexec loader told this kernel to keep off: after a crash (or
    /// preserve-context) kexec, the previous kernel's memory. Linux gives a crash
    /// kernel its `linux,usable-memory` and reserves the crashed kernel's memory
    /// (`arch/powerpc/kexec/file_load_64.c: setup_new_fdt_ppc64` (6.12),
    /// `fdt_add_mem_rsv()` below `crashk_res.start`); SVMKit's next kernel boots over
    /// the same RAM, so the loader's reservation is the previous kernel's memblock.
    /// No record of shares is passed: the ledger starts empty. Empty by default.
    public var kexecReservations: [Memblock.Region] = []
    /// Which stable series the kernel behaves as (``LinuxVersion``; default the newest,
    /// 6.12): the SWIOTLB init order, the `swiotlb=` grammar, the LPPACA check, the
    /// os-term arguments.
    public var linux: LinuxVersion = .newest
    /// Which DMA ops the virtual disk gets (``DMAPath``; default the DDW bypass QEMU PEF
    /// guests use).
    public var dmaPath: DMAPath = .ddwBypass

    /// `CONFIG_SWIOTLB_DYNAMIC` (a build option; off in `ppc64_defconfig` (6.12)): a
    /// default pool that runs out grows by a new pool of the default size and area
    /// count (`kernel/dma/swiotlb.c: swiotlb_dyn_alloc, swiotlb_alloc_pool (6.12)`),
    /// taken from the page allocator and shared in ONE `set_memory_decrypted()`
    /// (`alloc_dma_pages()`): one `UV_SHARE_PAGE` for the whole pool. SVMKit grows in
    /// the mapping's own context through ``SWIOTLBDynamicPool`` instead of Linux's
    /// `GFP_NOWAIT` transient pool (which can end in "scheduling while atomic"), and
    /// unshares (`set_memory_encrypted()`, one `UV_UNSHARE_PAGE`) and frees an added
    /// pool once its last mapping is unmapped, as Linux does only for transient pools
    /// (`swiotlb_del_transient()`, `swiotlb_free_tlb()`). `svmkit boot`/`soak`
    /// `--swiotlb-dynamic`.
    public var swiotlbDynamic: Bool
    /// Receives every SWIOTLB map and unmap of this kernel's pools (`svmkit boot`/`soak`
    /// `--swiotlb-trace FILE`): each default pool created starts a scenario.
    public var swiotlbTrace: SWIOTLBTraceLog?

    /// ``nrCPUs`` within Kconfig's range (`arch/powerpc/platforms/Kconfig.cputype`).
    var configuredNRCPUs: Int { min(max(nrCPUs, 1), 8192) }

    /// The defaults: bootargs from the tree, hypervisor from the tree, DTLs on, a
    /// 16 MiB kernel, no bugs, `NR_CPUS` 2048, no dynamic SWIOTLB, no trace, Linux 6.12,
    /// the DDW DMA path.
    public init(
        commandLine: String? = nil, hypervisor: HypervisorPlatform? = nil, dispatchTraceLogs: Bool = true,
        kernelSize: UInt64 = 16 << 20, bugs: Set<GuestBug> = [], touchAfterBootAddress: GuestPhysicalAddress? = nil,
        nrCPUs: Int = 2048, swiotlbDynamic: Bool = false, swiotlbTrace: SWIOTLBTraceLog? = nil
    ) {
        self.swiotlbDynamic = swiotlbDynamic
        self.swiotlbTrace = swiotlbTrace
        self.nrCPUs = nrCPUs
        self.commandLine = commandLine
        self.hypervisor = hypervisor
        self.dispatchTraceLogs = dispatchTraceLogs
        self.kernelSize = kernelSize
        self.bugs = bugs
        self.touchAfterBootAddress = touchAfterBootAddress
    }
}

/// The hypervisor under the partition, as `pSeries_smp_probe()` cares about it.
public enum HypervisorPlatform: String, Hashable, Sendable, CaseIterable {
    /// KVM (with QEMU): `is_kvm_guest()` is true. KVM emulates `msgsndp` by reading the
    /// instruction from guest memory, which it cannot do for a secure guest.
    case kvm
    /// PowerVM: doorbells between SMT siblings are used, secure guests included.
    case powerVM = "PowerVM"
}
