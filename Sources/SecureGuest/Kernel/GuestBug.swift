/// The deliberately buggy guests of issue 8 item 4, by the names `svmkit boot --bug`
/// takes: the one vocabulary of the guest's deliberate mistakes
/// (``GuestKernelOptions/bugs``). The simulator or the SWIOTLB library catches each one
/// and names the culprit in the boot report. Every bug is off by default.
public enum GuestBug: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `alloc_shared_lppaca()` forgets its `uv_share_page()`; `H_REGISTER_VPA` then
    /// makes the hypervisor read a secure page.
    case skipLPPACAShare = "skip-lppaca-share"
    /// The `dtl` cache has no constructor: the hypervisor's DTL registration read
    /// hits a secure page.
    case skipDTLShare = "skip-dtl-share"
    /// `swiotlb_update_mem_attributes()` is skipped: the device's first DMA into the
    /// pool hits a secure page.
    case skipBouncePoolShare = "skip-bounce-pool-share"
    /// At the end of boot the kernel reads a page the Ultravisor shared implicitly
    /// (its first one, an RTAS or TPM bounce page): the Ultravisor kills the SVM. The
    /// page is ``GuestKernelOptions/touchAfterBootAddress``, which whoever turns the bug
    /// on supplies (the guest cannot tell which pages the Ultravisor shared implicitly).
    case touchImplicitPage = "touch-implicit-page"
    /// The block driver unshares the pool page under a live bounce buffer before the
    /// device runs: the device's DMA hits a secure page.
    case unshareBouncePageWhileMapped = "unshare-bounce-page-while-mapped"
    /// The block driver unmaps its first bounce buffer twice: SWIOTLB refuses the second.
    case doubleUnmap = "double-unmap"
    /// The block driver syncs its first mapping one sector past its end: SWIOTLB refuses.
    case syncPastMappingEnd = "sync-past-mapping-end"

    /// The name `--bug` takes.
    public var description: String { rawValue }

    /// Whether the bug shows only when the guest does DMA (the block-driver bugs, and
    /// the unshared pool), so a boot must run SVMKit's
    /// `SecureVirtualMachine.exerciseBlockDevice(bytes:)`.
    public var needsDMA: Bool {
        switch self {
        case .skipBouncePoolShare, .unshareBouncePageWhileMapped, .doubleUnmap, .syncPastMappingEnd: true
        case .skipLPPACAShare, .skipDTLShare, .touchImplicitPage: false
        }
    }
}
