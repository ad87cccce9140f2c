import PEFMachine
import PowerABI
import SWIOTLB

/// The default SWIOTLB pool and the secure guest's DMA policy
/// (reference/linux-guest-facts.md §1.3, §2.2, §2.7).
extension GuestKernel {
    /// Models the SWIOTLB set-up of `mem_init()` (`arch_mm_preinit()` later), which
    /// first calls `memblock_set_bottom_up(true)`: the pool is placed as LOW as memory
    /// allows. What happens depends on the series (``LinuxVersion``):
    ///
    /// - 6.1, 6.12: `swiotlb_init(ppc_swiotlb_enable, ppc_swiotlb_flags)` runs while
    ///   both are still 0 (`arch/powerpc/mm/mem.c: mem_init (6.1, 6.12)`), so
    ///   `swiotlb_init_remap()` makes a pool only for `swiotlb=force`, below 4 GiB, and
    ///   latches `force_bounce` from it (`kernel/dma/swiotlb.c: swiotlb_init_remap
    ///   (6.1, 6.12)`). A secure guest booted without `swiotlb=force` has NO pool:
    ///   ``LinuxVersion/secureGuestPoolWithoutForce``.
    /// - 5.4, 5.10: a secure guest always gets the pool (5.4 `swiotlb_init(0)` in low
    ///   memory; 5.10 `svm_swiotlb_init()` anywhere), and ``initSVM(secure:)`` forces
    ///   bouncing through it later (`arch/powerpc/mm/mem.c: mem_init (5.4.301,
    ///   5.10.265)`; see ``LinuxVersion``), even after `swiotlb=noforce`, which there only
    ///   sets `io_tlb_nslabs = 1`: 5.10's `svm_swiotlb_init()` aligns that to one
    ///   128-slot segment; 5.4's `swiotlb_init()` makes a 1-slot (2 KiB) pool, which SVMKit
    ///   cannot (its smallest pool is one segment) and models as one segment, saying so.
    /// - a normal guest has a pool only with `swiotlb=force`, below 4 GiB.
    /// - otherwise `swiotlb=noforce` disables SWIOTLB (`swiotlb_force_disable`).
    ///
    /// The size and areas come from `swiotlb=` (64 MiB and, as
    /// `swiotlb_adjust_nareas(num_possible_cpus())`, one area per POSSIBLE CPU by
    /// default; one area before 6.0); if memory is short 6.x halves the size down to
    /// 1 MiB, and 5.x tries once (``LinuxVersion/swiotlbInitRetriesSmaller``): 5.10's
    /// `svm_swiotlb_init()` then panics, which is thrown as
    /// ``GuestKernelError/allocation(_:)``. With `swiotlb=force`, 6.12 and 5.x force
    /// bouncing even when no pool comes of it (``LinuxVersion/forceBounceWithoutPool``).
    /// Nothing is printed about the pool here: pseries passes no
    /// `SWIOTLB_VERBOSE`, and ``checkSwiotlbEnabled(secure:)`` prints it later.
    func setUpSWIOTLB(
        commandLine: KernelCommandLine, possibleCPUs: Int, secure: Bool, memblock: inout Memblock
    ) throws(GuestKernelError) {
        let linux = options.linux
        let option = SWIOTLBOption(commandLine, areas: linux.swiotlbAreas)
        for d in option.diagnostics { printk("swiotlb: \(d)") }
        let svmPool = secure && linux.secureGuestPoolWithoutForce
        if option.forceMode == .noforce {
            guard svmPool else {
                printk("SVMKit: swiotlb=noforce: swiotlb_init_remap() makes no pool")
                return
            }
            if linux == .v5_4 {
                printk(
                    "SVMKit: Linux 5.4: swiotlb=noforce leaves io_tlb_nslabs = 1, a 1-slot pool that init_svm() "
                        + "forces; modelled as one 128-slot segment")
            }
        }
        let cmdlineForce = option.forceMode == .force
        guard cmdlineForce || svmPool else {
            if secure {
                printk(
                    "SVMKit: Linux \(linux): swiotlb_init() ran before init_svm(); without swiotlb=force "
                        + "swiotlb_init_remap() makes no pool and forces nothing")
            }
            return
        }
        // 6.12 latches force_bounce before allocating, 5.x parsed it into swiotlb_force:
        // forced even if no pool comes of it (``LinuxVersion/forceBounceWithoutPool``).
        if cmdlineForce && linux.forceBounceWithoutPool { state.withLock { $0.forceBounce = true } }
        var configuration: SWIOTLBConfiguration
        do {
            configuration = try SWIOTLBConfiguration(
                slabs: option.slabs, areas: linux.swiotlbAreas ? option.areas : 1, force: true,
                possibleCPUs: linux.swiotlbAreas ? max(1, possibleCPUs) : 1)
        } catch {
            printk("software IO TLB: \(error)")
            return
        }
        let anywhere = secure && linux.secureGuestPoolAnywhere
        let limit: Range<GuestPhysicalAddress>? =
            anywhere ? nil : GuestPhysicalAddress(0)..<GuestPhysicalAddress(min(memblock.memorySize, 1 << 32))
        var base: GuestPhysicalAddress?
        while base == nil {
            do {
                base = try memblock.allocate(
                    size: UInt64(configuration.size), alignment: PageSize.bytes, limit: limit, bottomUp: true,
                    purpose: SharedPageOwner.swiotlb.rawValue)
            } catch {
                if !linux.swiotlbInitRetriesSmaller && anywhere {
                    printk("SVM: Cannot allocate SWIOTLB buffer")
                    throw .allocation(error)
                }
                guard linux.swiotlbInitRetriesSmaller else {
                    printk("software IO TLB: Cannot allocate buffer")
                    return
                }
                // 6.x: each failed try warns (kernel/dma/swiotlb.c: swiotlb_memblock_alloc
                // (6.1, 6.12)); after the 1 MiB one swiotlb_init_remap() returns silently.
                printk(
                    "software IO TLB: swiotlb_memblock_alloc: Failed to allocate \(configuration.size) bytes tlb structure")
                guard let smaller = configuration.halved() else { return }
                configuration = smaller
            }
        }
        guard let base else { return }
        // Before 6.0 there are no areas, and no "area num" line (swiotlb_init_with_tbl (5.4.301, 5.10.265)).
        for m in configuration.messages where linux.swiotlbAreas || !m.hasPrefix("area num") {
            printk("software IO TLB: \(m)")
        }
        let memory = GuestBounceMemory(vcpu: processor(0))
        let pool: SWIOTLBPool
        do {
            pool = try SWIOTLBPool(
                configuration: configuration, base: base.rawValue, memory: memory, allocator: linux.swiotlbAllocator,
                pageSize: Int(PageSize.bytes),
                warn: { [weak self] line in self?.warnSWIOTLBFull(line) }, recorder: options.swiotlbTrace,
                share: { (_: BounceRegion) throws(Never) in })
        } catch {
            printk("software IO TLB: \(error)")
            memblock.free(start: base, size: UInt64(configuration.size))
            return
        }
        for m in pool.messages where !m.contains("mapped [mem") {
            printk(m.hasPrefix("software IO TLB") ? m : "software IO TLB: \(m)")
        }
        options.swiotlbTrace?.begin(name: "io_tlb_default_mem", pool: pool)
        let dynamic = options.swiotlbDynamic && options.linux.hasDynamicSWIOTLB ? makeDynamicPool(pool, configuration: configuration) : nil
        state.withLock { s in
            s.pool = pool
            s.dynamicPool = dynamic
            // io_tlb_default_mem.force_bounce: swiotlb=force (latched here); on 5.x
            // init_svm() forces it later.
            s.forceBounce = cmdlineForce
        }
    }

    /// Models `init_svm()` (`arch/powerpc/platforms/pseries/svm.c: init_svm (6.12)`), a
    /// pseries `machine_early_initcall` that runs after setup.o's
    /// `alloc_dispatch_log_kmem_cache()` (link order, `platforms/pseries/Makefile`):
    /// on a secure guest it sets `ppc_swiotlb_enable` and asks for forced bouncing
    /// (which only 5.x honours: ``LinuxVersion/initSVMForcesBounce``), then
    /// `swiotlb_update_mem_attributes()` shares the whole default pool, page-rounded,
    /// with ONE `set_memory_decrypted()` (owner `swiotlb`), whose result it ignores;
    /// with no pool (`nslabs == 0`) it shares nothing (`kernel/dma/swiotlb.c:
    /// swiotlb_update_mem_attributes (6.1, 6.12)`).
    func initSVM(secure: Bool) {
        guard secure else { return }
        let pool: SWIOTLBPool? = state.withLock { s in
            s.ppcSwiotlbEnable = true
            if options.linux.initSVMForcesBounce { s.forceBounce = true }
            return s.pool
        }
        guard let pool else { return }
        if options.bugs.contains(.skipBouncePoolShare) {
            printk("SVMKit bug: swiotlb_update_mem_attributes() is skipped")
            return
        }
        let page = UInt64(PageSize.bytes)
        let bytes = (UInt64(pool.region.size) + page - 1) & ~(page - 1)
        try? setMemoryDecrypted(
            GuestPhysicalAddress(pool.region.base), pageCount: Int(bytes / page), owner: .swiotlb, callSite: "swiotlb_update_mem_attributes")
    }

    /// Models `check_swiotlb_enabled()` (`arch/powerpc/kernel/dma-swiotlb.c:
    /// check_swiotlb_enabled (6.1, 6.12)`), a `subsys_initcall`: with
    /// `ppc_swiotlb_enable` (set by ``initSVM(secure:)`` on a secure guest)
    /// `swiotlb_print_info()` prints the pool, or "No low mem" when there is none
    /// (`kernel/dma/swiotlb.c: swiotlb_print_info (6.12)`, `pr_fmt` "software IO TLB: ");
    /// without it `swiotlb_exit()` frees the pool unless `swiotlb=force` was given,
    /// which is the only way a normal pseries guest has one here.
    /// `swiotlb_print_info()`'s range: `%pa` (5.10, 6.x: ``BounceRegion/description``), or
    /// 5.4's `%#010llx` (`kernel/dma/swiotlb.c: swiotlb_print_info (5.4.301)`), e.g.
    /// `[mem 0x00720000-0x04720000] (64MB)`.
    static func printInfo(_ region: BounceRegion, linux: LinuxVersion) -> String {
        guard linux == .v5_4 else { return region.description }
        func hex(_ v: UInt64) -> String {
            let digits = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        }
        return "[mem \(hex(region.base))-\(hex(region.end))] (\(region.size >> 20)MB)"
    }

    func checkSwiotlbEnabled(secure: Bool) {
        let (enabled, pool) = state.withLock { ($0.ppcSwiotlbEnable, $0.pool) }
        guard enabled else { return }
        if let pool {
            printk("software IO TLB: mapped \(Self.printInfo(pool.region, linux: options.linux))")
        } else {
            printk("software IO TLB: No low mem")
        }
        let force = state.withLock { $0.forceBounce }
        printk(
            "SVMKit: DMA ops (\(options.dmaPath)): "
                + (options.dmaPath == .tce
                    ? "dma_iommu_ops, TCE-mapped: no bouncing"
                    : force && pool != nil
                        ? "dma-direct, every streaming mapping bounced through SWIOTLB"
                        : "dma-direct, streaming mappings NOT bounced: the device is given the buffer's own address"))
    }
}
