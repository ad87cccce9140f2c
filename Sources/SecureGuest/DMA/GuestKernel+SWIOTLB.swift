import PEFMachine
import PowerABI
import SWIOTLB

/// The default SWIOTLB pool and the secure guest's DMA policy
/// (reference/linux-guest-facts.md §1.3, §2.2, §2.7).
extension GuestKernel {
    /// Models `swiotlb_init(ppc_swiotlb_enable, ppc_swiotlb_flags)` from `mem_init()`
    /// (`arch/powerpc/mm/mem.c: mem_init (6.12)`, `arch_mm_preinit()` later), which
    /// first calls `memblock_set_bottom_up(true)`: the pool is placed as LOW as memory
    /// allows.
    ///
    /// - on a secure guest the pool may sit anywhere (`SWIOTLB_ANY`, which `init_svm()`
    ///   sets) and every streaming mapping bounces (`SWIOTLB_FORCE`,
    ///   `force_dma_unencrypted()` is true for every device); it is shared later, by
    ///   ``initSVM(secure:)``;
    /// - on a normal guest there is a pool only with `swiotlb=force`, below 4 GiB,
    ///   and nothing is shared;
    /// - `swiotlb=noforce` disables SWIOTLB (on a secure guest DMA then cannot work).
    ///
    /// The size and areas come from `swiotlb=` (64 MiB and, as
    /// `swiotlb_adjust_nareas(num_possible_cpus())`, one area per POSSIBLE CPU by
    /// default); if memory is short the size is halved down to 1 MiB, as Linux does.
    /// (The facts file notes an ordering gap in current mainline, where `init_svm()`
    /// sets the flags after `swiotlb_init()`; SVMKit models the intended behaviour:
    /// the DocC article "Where SVMKit differs from the hardware".)
    func setUpSWIOTLB(commandLine: KernelCommandLine, possibleCPUs: Int, secure: Bool, memblock: inout Memblock) {
        let option = SWIOTLBOption(commandLine)
        for d in option.diagnostics { printk("swiotlb: \(d)") }
        if option.forceMode == .noforce {
            printk("software IO TLB: disabled by swiotlb=noforce")
            if secure { noBouncePool("swiotlb=noforce") }
            return
        }
        let force = secure || option.forceMode == .force
        guard force else { return }
        var configuration: SWIOTLBConfiguration
        do {
            configuration = try SWIOTLBConfiguration(
                slabs: option.slabs, areas: option.areas, force: true, possibleCPUs: max(1, possibleCPUs))
        } catch {
            printk("software IO TLB: \(error)")
            if secure { noBouncePool("\(error)") }
            return
        }
        let limit: Range<UInt64>? = secure ? nil : 0..<min(memblock.memorySize, 1 << 32)
        var base: UInt64?
        while base == nil {
            do {
                base = try memblock.allocate(
                    size: UInt64(configuration.size), alignment: PageSize.bytes, limit: limit, bottomUp: true,
                    purpose: SharedPageOwner.swiotlb.rawValue)
            } catch {
                guard let smaller = configuration.halved() else {
                    printk("software IO TLB: Cannot allocate buffer")
                    if secure { noBouncePool("the pool could not be allocated") }
                    return
                }
                configuration = smaller
            }
        }
        guard let base else { return }
        for m in configuration.messages { printk("software IO TLB: \(m)") }
        let memory = GuestBounceMemory(vcpu: processor(0))
        let pool: SWIOTLBPool
        do {
            pool = try SWIOTLBPool(
                configuration: configuration, base: base, memory: memory, pageSize: Int(PageSize.bytes),
                warn: { [weak self] line in self?.printk(line) }, recorder: options.swiotlbTrace,
                share: { (_: BounceRegion) throws(Never) in })
        } catch {
            printk("software IO TLB: \(error)")
            memblock.free(start: base, size: UInt64(configuration.size))
            if secure { noBouncePool("\(error)") }
            return
        }
        for m in pool.messages { printk(m.hasPrefix("software IO TLB") ? m : "software IO TLB: \(m)") }
        options.swiotlbTrace?.begin(name: "io_tlb_default_mem", pool: pool)
        let dynamic = options.swiotlbDynamic ? makeDynamicPool(pool, configuration: configuration) : nil
        state.withLock { s in
            s.pool = pool
            s.dynamicPool = dynamic
            s.forceBounce = true
        }
        printk(
            "SVMKit: DMA ops: dma-direct, every streaming mapping bounced through SWIOTLB"
                + (secure ? " (init_svm: SWIOTLB_ANY | SWIOTLB_FORCE)" : " (swiotlb=force)"))
    }

    /// Models `init_svm()` (`arch/powerpc/platforms/pseries/svm.c: init_svm (6.12)`), a
    /// pseries `machine_early_initcall` that runs after setup.o's
    /// `alloc_dispatch_log_kmem_cache()` (link order, `platforms/pseries/Makefile`):
    /// on a secure guest `swiotlb_update_mem_attributes()` shares the whole default
    /// pool, page-rounded, with ONE `set_memory_decrypted()` (owner `swiotlb`), whose
    /// result it ignores.
    func initSVM(secure: Bool) {
        guard secure, let pool = state.withLock({ $0.pool }) else { return }
        if options.bugs.skipBouncePoolShare {
            printk("SVMKit bug: swiotlb_update_mem_attributes() is skipped")
            return
        }
        let page = UInt64(PageSize.bytes)
        let bytes = (UInt64(pool.region.size) + page - 1) & ~(page - 1)
        try? setMemoryDecrypted(
            pool.region.base, pageCount: Int(bytes / page), owner: .swiotlb, callSite: "swiotlb_update_mem_attributes")
    }

    /// Notes that a secure guest has no bounce pool: streaming DMA is then refused with
    /// the reason (``DMAError/noBouncePool(reason:)``).
    private func noBouncePool(_ reason: String) {
        printk("SVMKit: secure guest without a SWIOTLB bounce pool (\(reason)): streaming DMA will be refused")
        state.withLock { $0.bounceUnavailable = reason }
    }
}
