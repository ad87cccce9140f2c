import PEFMachine
import PowerABI
import SWIOTLB

/// The default SWIOTLB pool and the secure guest's DMA policy
/// (reference/linux-guest-facts.md §1.3, §2.2, §2.7).
extension GuestKernel {
    /// Models `swiotlb_init(ppc_swiotlb_enable, ppc_swiotlb_flags)` from
    /// `arch_mm_preinit()` together with `init_svm()`
    /// (`arch/powerpc/platforms/pseries/svm.c`):
    ///
    /// - on a secure guest `init_svm()` sets `ppc_swiotlb_enable` and ORs in
    ///   `SWIOTLB_ANY | SWIOTLB_FORCE`: the pool may sit anywhere in memory (the
    ///   hypervisor has no addressing limit), every streaming mapping bounces
    ///   (`force_dma_unencrypted()` is true for every device), and
    ///   `swiotlb_update_mem_attributes()` shares the whole pool with ONE
    ///   `UV_SHARE_PAGE` (`set_memory_decrypted()`, owner `swiotlb`);
    /// - on a normal guest there is a pool only with `swiotlb=force`, below 4 GiB,
    ///   and nothing is shared;
    /// - `swiotlb=noforce` disables SWIOTLB (on a secure guest DMA then cannot work).
    ///
    /// The size and areas come from `swiotlb=` (64 MiB and one area per CPU by
    /// default); if memory is short the size is halved down to 1 MiB, as Linux does.
    /// (The facts file notes a possible ordering gap in current mainline, where
    /// `init_svm()` runs after `swiotlb_init()`; SVMKit models the intended behaviour.)
    func setUpSWIOTLB(commandLine: KernelCommandLine, cpuCount: Int, secure: Bool, memblock: inout Memblock) {
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
                slabs: option.slabs, areas: option.areas, force: true, possibleCPUs: max(1, cpuCount))
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
                    size: UInt64(configuration.size), alignment: PageSize.bytes, limit: limit,
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
        let memory = GuestBounceMemory(vcpu: processor(0), memory: machine.memory)
        let share = secure && !options.bugs.skipBouncePoolShare
        if secure && !share { printk("SVMKit bug: swiotlb_update_mem_attributes() is skipped") }
        let pool: SWIOTLBPool
        do {
            pool = try SWIOTLBPool(
                configuration: configuration, base: base, memory: memory, pageSize: Int(PageSize.bytes),
                warn: { [weak self] line in self?.printk(line) },
                share: { (region: BounceRegion) throws(MemoryEncryptionError) in
                    guard share else { return }
                    try self.setMemoryDecrypted(
                        region.base, pageCount: region.size / Int(PageSize.bytes), owner: .swiotlb,
                        callSite: "swiotlb_update_mem_attributes")
                })
        } catch {
            printk("software IO TLB: \(error)")
            let quarantined = state.withLock { s in s.ledger.isQuarantined(GuestPhysicalAddress(base).frame) }
            if !quarantined { memblock.free(start: base, size: UInt64(configuration.size)) }
            if secure { noBouncePool("\(error)") }
            return
        }
        for m in pool.messages { printk(m.hasPrefix("software IO TLB") ? m : "software IO TLB: \(m)") }
        state.withLock { s in
            s.pool = pool
            s.forceBounce = true
        }
        printk(
            "SVMKit: DMA ops: dma-direct, every streaming mapping bounced through SWIOTLB"
                + (secure ? " (init_svm: SWIOTLB_ANY | SWIOTLB_FORCE)" : " (swiotlb=force)"))
    }

    /// Notes that a secure guest has no bounce pool: streaming DMA is then refused with
    /// the reason (``DMAError/noBouncePool(reason:)``).
    private func noBouncePool(_ reason: String) {
        printk("SVMKit: secure guest without a SWIOTLB bounce pool (\(reason)): streaming DMA will be refused")
        state.withLock { $0.bounceUnavailable = reason }
    }
}
