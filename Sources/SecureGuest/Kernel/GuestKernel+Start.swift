import DeviceTree
public import PEFMachine
import PowerABI
import SWIOTLB

/// Boot: from the kernel entry after prom_init to `init`.
extension GuestKernel {
    /// Boots the kernel. The façade calls this after prom_init succeeded (the
    /// Ultravisor re-entered the kernel in secure mode with r3 = fdt, r4 = kbase) or
    /// was skipped (a normal guest). Models, in Linux's order:
    ///
    /// 1. `early_init_devtree()`: reads the FDT from guest memory (``DeviceTreeBootInfo``)
    ///    and sets up ``Memblock`` from `/memory@0`, reserving the kernel (it runs from
    ///    0 up to kbase + its size), the FDT, the reserve map (QEMU's kernel and
    ///    initrd entries and the Ultravisor's reserved pages), the initrd and RTAS;
    /// 2. `is_secure_guest()` from the boot vCPU's MSR(S) (every vCPU must agree), and
    ///    the possible CPUs as `smp_setup_cpu_maps()` derives them (`/rtas`
    ///    `ibm,lrdr-capacity`, QEMU's `maxcpus`, capped at `NR_CPUS`);
    /// 3. `allocate_paca()` / `new_lppaca()` for every possible CPU (one shared region,
    ///    sized by `NR_CPUS`, and one `UV_SHARE_PAGE` on a secure guest), then
    ///    `vpa_init()` of the boot CPU;
    /// 4. `mem_init()`'s `swiotlb_init()`: the pool, bottom-up, one area per possible
    ///    CPU by default, if this series makes one (on 6.1 and 6.12 only with
    ///    `swiotlb=force`) — see `setUpSWIOTLB` and ``LinuxVersion``;
    /// 5. the pseries `machine_early_initcall`s in link order: setup.o's
    ///    `alloc_dispatch_log_kmem_cache()` (the `dtl` cache, whose constructor stores
    ///    and shares each backing page once on a secure guest, a DTL per possible CPU,
    ///    the boot CPU's registered), then svm.o's `init_svm()` (the pool, if any,
    ///    shared in one call);
    /// 6. `pSeries_smp_probe()`: the IPI choice, logged; then each secondary CPU is
    ///    brought up (`smp_startup_cpu()`: RTAS `start-cpu` for a vCPU that is not
    ///    running yet; on a secure guest the Ultravisor bounces the call and starts the
    ///    vCPU in secure mode) and runs `vpa_init()` (VPA and DTL) on its own vCPU;
    /// 7. the `subsys_initcall`s: `check_swiotlb_enabled()` prints the pool ("software
    ///    IO TLB: mapped …", or "No low mem" on a secure guest without one), and
    ///    `topology_init()` makes the sysfs `svm` file.
    ///
    /// As in Linux, no share status is acted on and a refused registration prints
    /// Linux's WARNING and boot goes on; the ledger writes the statuses down for
    /// ``diagnose()``.
    ///
    /// - Parameters:
    ///   - processors: the vCPUs, boot vCPU first (default: all of the machine's).
    ///     Stopped secondaries are started with RTAS `start-cpu`; running ones must be
    ///     in the boot vCPU's security state.
    ///   - fdtAddress: the device tree (default: the boot vCPU's r3).
    ///   - kernelBase: the kernel base (default: the boot vCPU's r4).
    /// - Throws: ``GuestKernelError`` for an unusable device tree, an early allocation
    ///   failure, an LPPACA overflow, inconsistent vCPUs, or a second start.
    @discardableResult
    public func start(
        processors: [VirtualProcessor]? = nil, fdtAddress: GuestPhysicalAddress? = nil,
        kernelBase: GuestPhysicalAddress? = nil
    )
        throws(GuestKernelError) -> GuestBootReport
    {
        let cpus = processors ?? machine.processors
        guard let boot = cpus.first else { throw .noProcessors }
        for p in cpus where p.machine !== machine { throw .foreignProcessor(index: p.index) }
        let began: Bool = state.withLock { s in
            guard s.phase == .created else { return false }
            s.phase = .booting
            s.processors = cpus
            s.lppacas = []
            s.dtls = []
            s.dtlReadIndex = [UInt64](repeating: 0, count: cpus.count)
            s.stolenTicks = [UInt64](repeating: 0, count: cpus.count)
            return true
        }
        guard began else { throw .alreadyStarted }
        do throws(GuestKernelError) {
            return try bootKernel(
                cpus: cpus, bootProcessor: boot, fdtAddress: fdtAddress ?? GuestPhysicalAddress(boot.registers.r3),
                kernelBase: kernelBase ?? GuestPhysicalAddress(boot.registers[4]))
        } catch {
            state.withLock { $0.phase = .failed(reason: error.description) }
            throw error
        }
    }

    private func bootKernel(
        cpus: [VirtualProcessor], bootProcessor boot: VirtualProcessor, fdtAddress: GuestPhysicalAddress,
        kernelBase: GuestPhysicalAddress
    ) throws(GuestKernelError) -> GuestBootReport {
        // 1. early_init_devtree
        let info = try DeviceTreeBootInfo.read(at: fdtAddress) { address, count in
            try boot.read(at: address, count: count, purpose: "early_init_devtree")
        }.get()
        let commandLine = KernelCommandLine(options.commandLine ?? info.bootargs)
        printk("Using pSeries machine description")
        printk("Kernel command line: \(commandLine.text)")
        // early_init_dt_scan_memory(): RAM is what /memory says, nothing else.
        let memorySize = info.memoryBytes
        guard memorySize > 0 else { throw .deviceTree(address: fdtAddress, reason: "no /memory range from address 0") }
        var memblock = Memblock(memorySize: memorySize)
        let kernelSize = info.kernel?.size ?? options.kernelSize
        memblock.reserve(start: GuestPhysicalAddress(0), size: kernelBase.rawValue &+ kernelSize, purpose: "kernel")
        memblock.reserve(start: fdtAddress, size: info.totalSize, purpose: "device tree")
        for r in info.reserveMap {
            memblock.reserve(start: GuestPhysicalAddress(r.address), size: r.size, purpose: "reserve-map")
        }
        for r in options.kexecReservations {
            memblock.reserve(start: r.start, size: r.size, purpose: Self.previousKernelPurpose)
        }
        if let r = info.initrd { memblock.reserve(start: GuestPhysicalAddress(r.address), size: r.size, purpose: "initrd") }
        if let r = info.rtas { memblock.reserve(start: GuestPhysicalAddress(r.address), size: r.size, purpose: "rtas") }
        state.withLock { s in
            s.boot = info
            s.commandLine = commandLine.text
            s.memoryBytes = memorySize
        }

        // 2. is_secure_guest()
        let secure = boot.isSecure
        printk(secure ? "SVMKit: secure guest (MSR[S] = 1)" : "SVMKit: normal guest (MSR[S] = 0)")

        // smp_setup_cpu_maps(): the possible CPUs (nr_cpu_ids afterwards).
        let possible = max(info.possibleCPUs(nrCPUs: options.configuredNRCPUs, running: cpus.count), cpus.count)
        if let capacity = info.lrdrCapacityCPUs {
            printk(
                capacity > options.configuredNRCPUs
                    ? "Partition configured for \(capacity) cpus, operating system maximum is \(options.configuredNRCPUs)."
                    : "Partition configured for \(capacity) cpus.")
        }
        state.withLock { $0.possibleCPUs = possible }

        // 3. LPPACAs (the shared region is sized in early_setup(), when nr_cpu_ids is
        //    still NR_CPUS), boot CPU's VPA
        let lppacas = try allocateLPPACAs(
            cpuCount: possible, regionCPUs: max(possible, options.configuredNRCPUs), secure: secure,
            memblock: &memblock)
        state.withLock { s in
            s.lppacas = lppacas.addresses
            s.lppacaRegion = lppacas.region
            s.memblock = memblock
        }
        vpaInit(cpu: 0)

        // 4. mem_init(): swiotlb_init() allocates the pool bottom-up (not shared yet).
        try setUpSWIOTLB(commandLine: commandLine, possibleCPUs: possible, secure: secure, memblock: &memblock)
        state.withLock { $0.memblock = memblock }

        // 5. machine_early_initcalls in link order (platforms/pseries/Makefile: setup.o
        //    before svm.o): alloc_dispatch_log_kmem_cache() — the dtl cache, a DTL per
        //    possible CPU, the boot CPU's registered — then init_svm() shares the pool.
        if options.dispatchTraceLogs {
            let dtls = try allocateDispatchLogs(cpuCount: possible, secure: secure, memblock: &memblock)
            state.withLock { s in
                s.dtls = dtls
                s.memblock = memblock
            }
            let sharedPages = state.withLock { $0.dtlSharedPages.count }
            printk(
                "SVMKit: dtl cache: \(dtls.compactMap { $0 }.count) buffer(s) of \(Self.dispatchLogBytes) bytes"
                    + (secure ? ", \(sharedPages) page(s) passed to uv_share_page() by dtl_cache_ctor" : ""))
            // setup.c: alloc_dispatch_logs (6.12) registers the boot CPU's DTL
            // unconditionally.
            registerDTLBuffer(cpu: 0)
        }
        initSVM(secure: secure)

        // 6. pSeries_smp_probe(), then the secondaries come up.
        let platform = options.hypervisor ?? ((info.hypervisorIsKVM ?? true) ? .kvm : .powerVM)
        let ipi = IPIChoice.probe(hypervisor: platform, xive: info.xive, secure: secure, linux: options.linux)
        state.withLock { $0.ipi = ipi }
        printk("smp: \(ipi)")
        var online = 1
        if cpus.count > 1 {
            printk("smp: Bringing up secondary CPUs ...")
            for cpu in 1..<cpus.count {
                if !cpus[cpu].snapshot.isRunning {
                    guard smpStartupCPU(cpu, entry: kernelBase.rawValue, tree: info) else {
                        printk("Processor \(cpu) is stuck.")
                        continue
                    }
                }
                guard cpus[cpu].isSecure == secure else {
                    throw .mixedSecurity(vcpu: cpus[cpu].index, bootIsSecure: secure)
                }
                vpaInit(cpu: cpu)
                online += 1
            }
        }
        printk("smp: Brought up 1 node, \(online) CPU\(online == 1 ? "" : "s")")

        // subsys_initcall check_swiotlb_enabled(): the pool, or "No low mem".
        checkSwiotlbEnabled(secure: secure)

        // 7. topology_init(): the sysfs view exists from here.
        state.withLock { $0.phase = .running }
        let svm = sysfs.read(SysfsView.svmPath) ?? ""

        if options.bugs.contains(.touchImplicitPage), let address = options.touchAfterBootAddress {
            printk("SVMKit bug: touching \(address) after boot")
            _ = try? boot.read(at: address, count: 8, purpose: "buggy guest access")
        }

        let (snapshot, pool) = state.withLock { ($0, $0.pool) }
        let swiotlb = pool.map { p in
            let base = GuestPhysicalAddress(p.region.base)
            return SWIOTLBSummary(
                base: base, bytes: p.region.size, slots: p.slotCount, areas: p.areaCount,
                shared: snapshot.ledger.entries[base.frame]?.owner == .swiotlb)
        }
        return GuestBootReport(
            secure: secure, processors: cpus.count, commandLine: commandLine.text, memoryBytes: memorySize,
            lppacas: snapshot.lppacas.map { GuestPhysicalAddress($0) }, sharedLPPACARegion: snapshot.lppacaRegion, vpaFailures: snapshot.vpaFailures,
            dispatchTraceLogs: snapshot.dtls.map { $0.map { GuestPhysicalAddress($0) } },
            dtlFailures: snapshot.dtlFailures,
            dtlSharedPages: snapshot.dtlSharedPages.count, swiotlb: swiotlb, dmaForcedBounce: snapshot.forceBounce,
            ipi: ipi, shareCalls: snapshot.shareCalls, faults: snapshot.faults, sysfsSVM: svm)
    }
}
