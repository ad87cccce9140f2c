/// Who a shared page belongs to in the guest: the ledger's owner tag.
public enum SharedPageOwner: String, Hashable, Sendable, CaseIterable, Codable, Comparable {
    /// The packed LPPACA region (`alloc_shared_lppaca()`).
    case lppaca
    /// Dispatch Trace Log buffers (`dtl_cache_ctor()`).
    case dtl
    /// The SWIOTLB bounce pool (`swiotlb_update_mem_attributes()`).
    case swiotlb
    /// dma-direct coherent allocations (`force_dma_unencrypted()`).
    case dmaCoherent = "dma-coherent"
    /// Anything else (`set_memory_decrypted()` from other callers).
    case other

    /// Orders by declaration order.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}
