/// What a growing pool needs from the guest kernel: its page allocator and its
/// `set_memory_decrypted()` / `set_memory_encrypted()` (on POWER: `UV_SHARE_PAGE` and
/// `UV_UNSHARE_PAGE` over a range, one ultracall each).
///
/// The hooks are called from the map that found every pool full, in that map's
/// (process) context and never under an area lock, so they may block: unlike Linux's
/// transient pools, which allocate with `GFP_NOWAIT` and can end in "scheduling while
/// atomic" through `set_memory_encrypted()` (`kernel/dma/swiotlb.c:
/// swiotlb_alloc_tlb (6.12)`; reference/linux-guest-facts.md §2.6).
public struct SWIOTLBGrowthHooks: Sendable {
    /// Allocates `bytes` (a whole number of pages) of physically contiguous memory
    /// aligned to `alignment` and returns its first address (`alloc_pages()`).
    public var allocate: @Sendable (_ bytes: Int, _ alignment: Int) throws -> UInt64
    /// Shares a whole new pool with the hypervisor in one call (`alloc_dma_pages()`'s
    /// single `set_memory_decrypted()`). If it throws, some pages may be shared anyway;
    /// the pool then unshares the whole range before freeing it.
    public var share: @Sendable (BounceRegion) throws -> Void
    /// Makes a range private again (`set_memory_encrypted()`), one call per pool.
    public var unshare: @Sendable (BounceRegion) throws -> Void
    /// Returns memory to the allocator (`__free_pages()`); only ever called for memory
    /// that is private (never shared, or unshared successfully).
    public var free: @Sendable (BounceRegion) -> Void

    /// Makes the hooks.
    public init(
        allocate: @escaping @Sendable (_ bytes: Int, _ alignment: Int) throws -> UInt64,
        share: @escaping @Sendable (BounceRegion) throws -> Void,
        unshare: @escaping @Sendable (BounceRegion) throws -> Void,
        free: @escaping @Sendable (BounceRegion) -> Void
    ) {
        self.allocate = allocate
        self.share = share
        self.unshare = unshare
        self.free = free
    }
}
