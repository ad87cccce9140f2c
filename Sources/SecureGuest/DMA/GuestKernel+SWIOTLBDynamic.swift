import PEFMachine
import PowerABI
import SWIOTLB

/// `CONFIG_SWIOTLB_DYNAMIC` in the guest (``GuestKernelOptions/swiotlbDynamic``): the
/// default pool wrapped in a ``SWIOTLBDynamicPool`` whose hooks are this kernel's page
/// allocator and `set_memory_decrypted()` / `set_memory_encrypted()`.
extension GuestKernel {
    /// Wraps `pool` for growth. Added pools have the default pool's size and area count,
    /// as `swiotlb_dyn_alloc()` asks `swiotlb_alloc_pool()` for `default_nslabs` in
    /// `default_nareas` (`kernel/dma/swiotlb.c: swiotlb_dyn_alloc (6.12)`); SVMKit does
    /// not halve a pool the allocator cannot give (`swiotlb_alloc_pool()`'s retry loop):
    /// the map then fails as without growth.
    ///
    /// The hooks model `alloc_dma_pages()` (`kernel/dma/swiotlb.c: alloc_dma_pages
    /// (6.12)`): pages from the allocator, then ONE `set_memory_decrypted()` for the
    /// whole pool (owner `swiotlb`, call site `alloc_dma_pages`), whose Ultravisor
    /// status pseries ignores (`svm.c: set_memory_decrypted (6.12)` returns 0), so a
    /// failed share is a finding in the ledger, not a failed growth; and
    /// `swiotlb_free_tlb()`: ONE `set_memory_encrypted()` for the whole pool, then the
    /// pages back to the allocator. The hooks run in the mapping's context, never under
    /// an area lock.
    func makeDynamicPool(_ pool: SWIOTLBPool, configuration: SWIOTLBConfiguration) -> SWIOTLBDynamicPool {
        let hooks = SWIOTLBGrowthHooks(
            allocate: { [weak self] bytes, _ in
                guard let self else { throw DMAError.kernelNotRunning }
                switch self.allocatePages(bytes: UInt64(bytes), purpose: SharedPageOwner.swiotlb.rawValue) {
                case .success(let address): return address
                case .failure(let error): throw DMAError.allocation(error)
                }
            },
            share: { [weak self] region in
                try self?.setMemoryDecrypted(
                    GuestPhysicalAddress(region.base), pageCount: region.size >> Int(PageSize.shift), owner: .swiotlb,
                    callSite: "alloc_dma_pages")
            },
            unshare: { [weak self] region in
                try self?.setMemoryEncrypted(
                    GuestPhysicalAddress(region.base), pageCount: region.size >> Int(PageSize.shift),
                    callSite: "swiotlb_free_tlb")
            },
            free: { [weak self] region in self?.release(region.base, bytes: UInt64(region.size)) })
        return SWIOTLBDynamicPool(
            defaultPool: pool,
            policy: SWIOTLBGrowthPolicy(poolSize: configuration.size, areas: configuration.areas, maxPools: .max),
            hooks: hooks)
    }

    /// The pool (default or added) holding `dmaAddress`, or `nil` for a direct mapping.
    func bouncePool(containing dmaAddress: UInt64) -> SWIOTLBPool? {
        let (pool, dynamic) = state.withLock { ($0.pool, $0.dynamicPool) }
        if let dynamic { return dynamic.pool(containing: dmaAddress) }
        guard let pool, pool.contains(dmaAddress) else { return nil }
        return pool
    }

    /// After an unmap in an added pool: unshares and frees the added pools that are now
    /// idle (SVMKit's counterpart of `swiotlb_del_transient()`).
    func releaseIdleBouncePools(after pool: SWIOTLBPool) {
        guard let dynamic = state.withLock({ $0.dynamicPool }), pool !== dynamic.defaultPool else { return }
        dynamic.releaseIdlePools()
    }
}
