/// The operations a soak's vCPU threads run, chosen by a seeded generator with the
/// weights below.
public enum SoakOperationKind: String, Hashable, Sendable, CaseIterable, Codable, Comparable {
    /// A block write of a random size and sector through the vCPU's virtual disk: the
    /// driver maps the buffer with `dma_map_single(DMA_TO_DEVICE)`, so on a secure
    /// guest the data bounces through the shared SWIOTLB pool; the disk's contents
    /// are then checked against the written data's checksums.
    case blockWrite = "block-write"
    /// A block read into a poisoned buffer (`DMA_FROM_DEVICE`, copied back at unmap),
    /// checked sector by sector against the checksums of what was written last.
    case blockRead = "block-read"
    /// A bidirectional streaming mapping driven by hand: map, the device reads and
    /// writes the bounce buffer, `dma_sync_single_for_cpu()`,
    /// `dma_sync_single_for_device()`, unmap; every copy checked
    /// (reference/linux-guest-facts.md §2.4).
    case dmaBidirectional = "dma-bidirectional"
    /// `set_memory_decrypted()` of private pages holding a secret: afterwards the pages
    /// are shared, in the ledger, and the hypervisor sees a zeroed page, not the secret
    /// (reference/ultravisor-facts.md §5.2); what it writes, the guest reads.
    case share
    /// `set_memory_encrypted()` of shared pages: afterwards they are secure (the
    /// hypervisor's access rule refuses them), out of the ledger, and zeroed
    /// (reference/ultravisor-facts.md §5.3).
    case unshare
    /// The hypervisor pages a private page out (`UV_PAGE_OUT`, as KVM does under memory
    /// pressure): what it holds must not be the guest's plaintext; the guest's next
    /// touch faults the page back in intact.
    case pageOut = "page-out"
    /// `dma_alloc_coherent()` then `dma_free_coherent()`: shared while allocated (both
    /// sides see each other's writes), secure again after the free.
    case coherent

    /// How often the generator picks each kind, out of ``weightTotal``.
    public var weight: Int {
        switch self {
        case .blockWrite: 30
        case .blockRead: 30
        case .dmaBidirectional: 10
        case .share: 10
        case .unshare: 10
        case .pageOut: 5
        case .coherent: 5
        }
    }

    /// The sum of the weights.
    public static let weightTotal = allCases.reduce(0) { $0 + $1.weight }

    /// The kind a number in `0..<weightTotal` picks.
    static func pick(_ r: Int) -> SoakOperationKind {
        var left = r
        for k in allCases {
            if left < k.weight { return k }
            left -= k.weight
        }
        return .blockRead
    }

    /// Declaration order.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}
