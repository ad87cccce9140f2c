/// How the virtual disk's DMA reaches guest memory: which DMA ops Linux gives it.
///
/// QEMU PEF guests use virtio-blk-pci with `iommu_platform=on` (so virtio uses the DMA
/// API at all: reference/linux-guest-facts.md §1.10) behind a pseries PHB that offers a
/// DDW window covering all of memory. Such a device gets `dma_iommu_ops`, and
/// `dma_iommu_dma_supported()` sets `dev->dma_ops_bypass` when the window maps memory
/// 1:1 (`arch/powerpc/kernel/dma-iommu.c: dma_iommu_dma_supported (6.12)`,
/// `arch/powerpc/platforms/pseries/iommu.c: iommu_bypass_supported_pSeriesLP (6.12)`),
/// so `dma_map_page_attrs()` takes dma-direct (`kernel/dma/mapping.c: dma_go_direct
/// (6.12)`), and dma-direct bounces through SWIOTLB only when bouncing is forced or the
/// address is out of reach (`kernel/dma/direct.h: dma_direct_map_page (6.12)`).
public enum DMAPath: String, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// `dma_iommu_ops` with the DDW bypass → dma-direct → SWIOTLB when forced (the
    /// default, what QEMU PEF guests use).
    case ddwBypass = "ddw"
    /// A TCE-mapped device (or a VIO device): `dma_iommu_ops` maps the buffer's own page
    /// with `H_PUT_TCE` and never bounces, so on a secure guest the device reaches
    /// secure memory whatever the pool (every modelled series: ``LinuxVersion/secureGuestUsesIOMMUOps``;
    /// the 2019 skip of the IOMMU ops, facts §1.9, is not in 5.4.y). SVMKit models the
    /// mapping as 1:1 and makes no `H_PUT_TCE` calls.
    case tce

    /// `ddw` or `tce`.
    public var description: String { rawValue }
}
