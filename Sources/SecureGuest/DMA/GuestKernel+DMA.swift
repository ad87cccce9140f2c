import PEFMachine
import PowerABI
public import SWIOTLB

/// The DMA API as a pseries guest's dma-direct implements it (`kernel/dma/direct.c`,
/// `kernel/dma/mapping.c`), reached through the virtual disk's DMA ops (``DMAPath``):
/// streaming mappings bounce through the default SWIOTLB pool only when bouncing is
/// forced (`swiotlb=force`, or `init_svm()` on 5.x: ``LinuxVersion/initSVMForcesBounce``);
/// otherwise the DMA address is the buffer's own guest-physical address and the device
/// reaches the buffer directly, secure or not, as on 6.1 and 6.12 without
/// `swiotlb=force` (reference/linux-guest-facts.md §1.3). Coherent allocations are
/// shared with the hypervisor (`set_memory_decrypted()`, owner `dma-coherent`) because
/// `force_dma_unencrypted()` is true for every device of a secure guest, in every
/// series.
///
/// (The DDW window maps memory 1:1, so SVMKit's DMA addresses are guest-physical; the
/// TCE path is modelled 1:1 too, without `H_PUT_TCE` calls.)
extension GuestKernel {
    /// Models `dma_map_single()` → `dma_map_page_attrs()`: with the DDW bypass
    /// `dma_direct_map_page()` (`kernel/dma/direct.h: dma_direct_map_page (6.12)`)
    /// returns a bounce address (`swiotlb_map()`) when bouncing is forced, else
    /// `buffer`'s own address (the device is capable of all memory); on the TCE path
    /// (``DMAPath/tce``, every series) the IOMMU ops map `buffer` itself. The result is a
    /// `dma_addr_t` (a bus address, 1:1 with guest-physical here), not a GPA type. The first bounced
    /// mapping of a secure guest prints "Memory encryption is active and system is
    /// using DMA bounce buffers" (§2.5).
    /// - Throws: ``DMAError/swiotlb(_:)`` (exhaustion, bad masks, a refused copy),
    ///   ``DMAError/outOfRange(address:size:)``, ``DMAError/invalidSize(_:)``, and
    ///   ``DMAError/noBouncePool(reason:)`` when bouncing is forced but there is no pool
    ///   (`swiotlb_tbl_map_single()` returns `DMA_MAPPING_ERROR`).
    public func dmaMapSingle(
        _ buffer: GuestPhysicalAddress, size: Int, direction: DMADirection, attributes: DMAAttributes = [],
        device: DMADevice = DMADevice(), cpu: Int = 0
    ) throws(DMAError) -> UInt64 {
        // dma_addr_t: with the 1:1 window the DMA address is the buffer's GPA, or a bounce slot's.
        let address = buffer.rawValue
        guard phase == .running else { throw .kernelNotRunning }
        guard size > 0 else { throw .invalidSize(size) }
        guard isInRAM(address, count: UInt64(size)) else {
            throw .outOfRange(address: buffer, size: size)
        }
        let (pool, dynamic, force) = state.withLock { ($0.pool, $0.dynamicPool, $0.forceBounce) }
        let iommuMapped = options.dmaPath == .tce
        if force, pool == nil, !iommuMapped {
            // kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.1) warns and fails; 5.x panics.
            let reason = "Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer"
            if options.linux.swiotlbMapPanicsWithoutPool {
                printk("Kernel panic - not syncing: \(reason)")
                state.withLock { $0.phase = .failed(reason: "panic in swiotlb_tbl_map_single(): \(reason)") }
            } else {
                warnSWIOTLBNoPool(reason)
            }
            throw .noBouncePool(reason: reason)
        }
        guard force, !iommuMapped, let pool else {
            state.withLock { s in
                s.dma.mappings += 1
                s.dma.mappedBytes += UInt64(size)
            }
            return address
        }
        // swiotlb.c: swiotlb_tbl_map_single (6.12) prints this pr_warn_once() before
        // the slot search, so even a mapping that then fails prints it.
        let announce = state.withLock { s -> Bool in
            defer { s.bounceAnnounced = true }
            return !s.bounceAnnounced
        }
        if announce && isSecureGuest { printk("Memory encryption is active and system is using DMA bounce buffers") }
        // 5.4 has no dma_get_min_align_mask(): the bounce buffer starts at its slot
        // (``LinuxVersion/honoursMinAlignMask``).
        let device = options.linux.honoursMinAlignMask ? device : DMADevice(segmentBoundaryMask: device.segmentBoundaryMask)
        let bounce: UInt64
        do {
            if let dynamic {
                bounce = try dynamic.map(
                    original: address, size: size, direction: direction, attributes: attributes, device: device,
                    cpu: cpu)
            } else {
                bounce = try pool.map(
                    original: address, size: size, direction: direction, attributes: attributes, device: device,
                    cpu: cpu)
            }
        } catch {
            var error = error
            if case .scanHung(let hang) = error { error = .scanHung(hangInSWIOTLB(hang, cpu: cpu)) }
            if case .mappingTooLarge = error, !attributes.contains(.noWarn) {
                warnSWIOTLBFull(Self.oversizeMapLine(address, size: size, device: device, pool: pool))
            }
            noteSWIOTLBError(error, address: address, operation: "dma_map_single")
            throw .swiotlb(error)
        }
        state.withLock { s in
            s.dma.mappings += 1
            s.dma.bouncedMappings += 1
            s.dma.mappedBytes += UInt64(size)
            s.dma.bouncedBytes += UInt64(size)
        }
        return bounce
    }

    /// The "swiotlb buffer is full" line Linux prints for a map that SVMKit's pool refuses
    /// as ``SWIOTLBError/mappingTooLarge(size:allocationSize:maximum:)`` (6.12's
    /// allocator; 6.1's and 5.x's searches fail such maps as Linux's do, as
    /// ``SWIOTLBError/exhausted(_:)``, whose line the pool prints itself). 6.12's
    /// `swiotlb_find_slots()` returns -1 at once for an allocation over one segment
    /// (`alloc_size > IO_TLB_SEGSIZE * IO_TLB_SIZE`), and its search finds no room for one
    /// whose alignment fits no segment; either way `swiotlb_tbl_map_single()` warns with
    /// its `size`, `ALIGN(mapping_size + offset, alloc_align_mask + 1)`, where
    /// `swiotlb_map()` passes `alloc_align_mask` 0 and `offset` is the buffer's
    /// `min_align_mask` bits below a slot (`kernel/dma/swiotlb.c: swiotlb_find_slots,
    /// swiotlb_tbl_map_single, swiotlb_align_offset, swiotlb_map (6.12)`). The totals are
    /// the default pool's, as in the pool's own line.
    static func oversizeMapLine(_ address: UInt64, size: Int, device: DMADevice, pool: SWIOTLBPool) -> String {
        let offset = pool.allocator == .linux61 ? 0 : Int(address & device.minAlignMask & UInt64(SWIOTLB.slotSize - 1))
        return SWIOTLBExhaustion.kernelMessage(
            size: size + offset, totalSlots: pool.slotCount, usedSlots: pool.statistics.usedSlots)
    }

    /// Models `dma_max_mapping_size()` for the virtual disk: through the DDW bypass,
    /// `dma_direct_max_mapping_size()` gives SWIOTLB's limit when the pool is active and
    /// bouncing forced, `swiotlb_max_mapping_size()`: one segment (`IO_TLB_SIZE *
    /// IO_TLB_SEGSIZE`, 256 KiB) less `device`'s `min_align_mask` rounded up to a slot
    /// (`kernel/dma/direct.c: dma_direct_max_mapping_size (6.1)`, `kernel/dma/swiotlb.c:
    /// swiotlb_max_mapping_size (6.1, 6.12)`); otherwise, and on the TCE path
    /// (`dma_iommu_ops` has no `max_mapping_size`), no limit (`nil`, `SIZE_MAX`).
    public func dmaMaxMappingSize(device: DMADevice = DMADevice()) -> Int? {
        let (pool, force) = state.withLock { ($0.pool, $0.forceBounce) }
        let iommuMapped = options.dmaPath == .tce
        guard force, !iommuMapped, pool != nil else { return nil }
        let slot = UInt64(SWIOTLB.slotSize)
        // 5.4 has no min_align_mask: always 256 KiB (swiotlb_max_mapping_size (5.4.301)).
        let mask = options.linux.honoursMinAlignMask ? device.minAlignMask : 0
        let minAlign = mask == 0 ? 0 : (mask + slot - 1) / slot * slot
        return SWIOTLB.segmentSize - Int(minAlign)
    }

    /// Models `dma_unmap_single()`: a bounce address is released through the pool
    /// (copying back for `DMA_FROM_DEVICE` and `DMA_BIDIRECTIONAL`); any other address
    /// needs nothing, as in dma-direct.
    /// - Throws: ``DMAError/swiotlb(_:)``: double unmap, size mismatch, not the start of
    ///   a mapping, a refused copy. Misuse is also recorded as a ``GuestFault``.
    public func dmaUnmapSingle(
        _ dmaAddress: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = []
    ) throws(DMAError) {
        state.withLock { $0.dma.unmappings += 1 }
        guard let pool = bouncePool(containing: dmaAddress) else { return }
        do {
            try pool.unmap(dmaAddress, size: size, direction: direction, attributes: attributes)
        } catch {
            noteSWIOTLBError(error, address: dmaAddress, operation: "dma_unmap_single")
            throw .swiotlb(error)
        }
        bounceReleases.add(1, ordering: .releasing)
        releaseIdleBouncePools(after: pool)
    }

    /// Models `dma_sync_single_for_cpu()`: bounce → original for the directions that
    /// copy back; nothing for a direct mapping.
    public func dmaSyncSingleForCPU(_ dmaAddress: UInt64, size: Int, direction: DMADirection) throws(DMAError) {
        guard let pool = bouncePool(containing: dmaAddress) else { return }
        do {
            try pool.syncForCPU(dmaAddress, size: size, direction: direction)
        } catch {
            noteSWIOTLBError(error, address: dmaAddress, operation: "dma_sync_single_for_cpu")
            throw .swiotlb(error)
        }
    }

    /// Models `dma_sync_single_for_device()`: original → bounce for the directions
    /// that copy in; nothing for a direct mapping.
    public func dmaSyncSingleForDevice(_ dmaAddress: UInt64, size: Int, direction: DMADirection) throws(DMAError) {
        guard let pool = bouncePool(containing: dmaAddress) else { return }
        do {
            try pool.syncForDevice(dmaAddress, size: size, direction: direction)
        } catch {
            noteSWIOTLBError(error, address: dmaAddress, operation: "dma_sync_single_for_device")
            throw .swiotlb(error)
        }
    }

    /// Models `dma_alloc_coherent()` → `dma_direct_alloc()`: whole zeroed pages whose
    /// CPU and DMA addresses are the same guest-physical address; on a secure guest
    /// they are shared with `set_memory_decrypted()` (owner `dma-coherent`, because
    /// `force_dma_unencrypted()` is true). `set_memory_decrypted()` ignores the
    /// Ultravisor's status, so a failed share does not fail the allocation
    /// (`kernel/dma/direct.c: dma_direct_alloc (6.12)`). Returns the buffer's
    /// guest-physical address, which is both its CPU and its DMA address.
    public func dmaAllocCoherent(size: Int, cpu: Int = 0) throws(DMAError) -> GuestPhysicalAddress {
        guard phase == .running else { throw .kernelNotRunning }
        guard size > 0, let bytes = PageSize.alignUp(UInt64(size)) else { throw .invalidSize(size) }
        let address: UInt64
        switch allocatePages(bytes: bytes, purpose: SharedPageOwner.dmaCoherent.rawValue) {
        case .success(let a): address = a
        case .failure(let e): throw .allocation(e)
        }
        do {
            try setMemoryDecrypted(
                GuestPhysicalAddress(address), pageCount: Int(bytes >> PageSize.shift), owner: .dmaCoherent, callSite: "dma_direct_alloc",
                cpu: cpu)
        } catch {
            release(address, bytes: bytes)
            throw .memoryEncryption(error)
        }
        // kernel/dma/direct.c: dma_direct_alloc (6.12) zeroes the buffer after
        // dma_set_decrypted(), secure or not (SVMKit used to rely on the Ultravisor's
        // zeroing at share time, which a share Linux wrongly believes done skips).
        try? processor(cpu).zero(at: GuestPhysicalAddress(address), count: Int(bytes))
        state.withLock { s in
            s.coherent[address] = Int(bytes)
            s.dma.coherentAllocations += 1
            s.dma.coherentBytes += bytes
        }
        return GuestPhysicalAddress(address)
    }

    /// Models `dma_free_coherent()` → `dma_direct_free()`: unshares the pages
    /// (`set_memory_encrypted()`, status ignored) and frees them, as Linux does even
    /// when the Ultravisor refused the unshare.
    public func dmaFreeCoherent(_ address: GuestPhysicalAddress, cpu: Int = 0) throws(DMAError) {
        guard let bytes = state.withLock({ $0.coherent.removeValue(forKey: address.rawValue) }) else {
            throw .notCoherent(address: address)
        }
        state.withLock { s in
            s.dma.coherentAllocations -= 1
            s.dma.coherentBytes -= UInt64(bytes)
        }
        do {
            try setMemoryEncrypted(
                address, pageCount: bytes >> Int(PageSize.shift), callSite: "dma_direct_free",
                cpu: cpu)
        } catch {
            throw .memoryEncryption(error)
        }
        release(address.rawValue, bytes: UInt64(bytes))
    }

    /// The CPU mapping for 6.1 never leaves `swiotlb_do_find_slots()`: it spins with
    /// the area's spinlock held and interrupts off (`spin_lock_irqsave()` before the
    /// `do … while (index != wrap)` loop, `kernel/dma/swiotlb.c: swiotlb_do_find_slots
    /// (6.1)`), so the
    /// kernel stops here (``GuestKernelPhase/hung(reason:)``). Linux prints nothing at
    /// that moment; SVMKit's line says where it hangs and why.
    func hangInSWIOTLB(_ found: SWIOTLBScanHang, cpu: Int) -> SWIOTLBScanHang {
        // The pool reports 6.1's swiotlb_do_find_slots(); a 5.10 guest spins in
        // find_slots() (LinuxVersion.swiotlbAllocator), and its report says so.
        let hang = options.linux == .v5_10 ? found.named(series: "5.10", function: "find_slots") : found
        printk("SVMKit: CPU \(cpu): \(hang)")
        state.withLock { s in
            s.swiotlbHang = hang
            s.phase = .hung(reason: "CPU \(cpu) spins in \(hang.function)() holding SWIOTLB area \(hang.area)'s lock")
        }
        return hang
    }

    /// Gives pages back to the allocator.
    func release(_ address: UInt64, bytes: UInt64) {
        state.withLock { $0.memblock?.free(start: GuestPhysicalAddress(address), size: bytes) }
    }

    /// Records SWIOTLB misuse as a fault naming the mapping (exhaustion is only logged
    /// by the pool, as Linux does).
    func noteSWIOTLBError(_ error: SWIOTLBError, address: UInt64, operation: String) {
        let culprit: String
        switch error {
        case .exhausted, .scanHung, .mappingTooLarge, .invalidMask, .invalidSize, .originalOutOfRange, .invalidConfiguration,
            .invalidRegion, .shareFailed:
            return
        case .alreadyUnmapped: culprit = "\(operation) on a mapping that was already unmapped (double unmap)"
        case .notMapped, .notBounceAddress: culprit = "\(operation) of an address that is not mapped"
        case .notMappingStart: culprit = "\(operation) given an address inside a mapping, not its start"
        case .sizeMismatch: culprit = "\(operation) with a size different from the mapped size"
        case .syncOutOfBounds: culprit = "\(operation) past the end of the mapping"
        case .copyFailed: culprit = "\(operation): the bounce copy was refused"
        }
        record(
            GuestFault(
                kind: .swiotlbMisuse, address: GuestPhysicalAddress(address), owner: .swiotlb, region: SharedPageOwner.swiotlb.rawValue,
                culprit: culprit, detail: error.description))
    }
}
