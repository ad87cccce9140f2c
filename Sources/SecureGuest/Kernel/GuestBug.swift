@_spi(Firmware) import PEFMachine
import SecureGuest

/// The deliberately buggy guests of issue 8 item 4, by the names `svmkit boot --bug`
/// takes: each turns on one `GuestKernelBugs` hook. The simulator or the SWIOTLB
/// library catches each one and names the culprit in the boot report.
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
    /// (its first one, an RTAS or TPM bounce page): the Ultravisor kills the SVM.
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
    /// the unshared pool), so a boot must run ``SecureVirtualMachine/exerciseBlockDevice(bytes:)``.
    public var needsDMA: Bool {
        switch self {
        case .skipBouncePoolShare, .unshareBouncePageWhileMapped, .doubleUnmap, .syncPastMappingEnd: true
        case .skipLPPACAShare, .skipDTLShare, .touchImplicitPage: false
        }
    }

    /// The kernel hooks for `bugs`, turned on in addition to those of `base`. The
    /// implicitly shared page to touch is looked up in `memory` (the lowest
    /// `SHARED_IMPLICIT` page) unless `base` names one, so call this after `UV_ESM`;
    /// on a guest with no such page the hook stays off.
    public static func kernelBugs(
        _ bugs: Set<GuestBug>, memory: GuestMemory, adding base: GuestKernelBugs = GuestKernelBugs()
    ) -> GuestKernelBugs {
        var b = base
        for bug in bugs {
            switch bug {
            case .skipLPPACAShare: b.skipLPPACAShare = true
            case .skipDTLShare: b.skipDTLShare = true
            case .skipBouncePoolShare: b.skipBouncePoolShare = true
            case .touchImplicitPage:
                b.touchAddressAfterBoot =
                    b.touchAddressAfterBoot ?? memory.frames(where: { $0 == .sharedImplicit }).first?.address?.rawValue
            case .unshareBouncePageWhileMapped: b.unshareBouncePageWhileMapped = true
            case .doubleUnmap: b.doubleUnmap = true
            case .syncPastMappingEnd: b.syncPastMappingEnd = true
            }
        }
        return b
    }
}
