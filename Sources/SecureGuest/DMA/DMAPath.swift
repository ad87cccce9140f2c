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
    /// secure memory whatever the pool. Every modelled series gives a secure guest's PCI
    /// devices `dma_iommu_ops`: `iommu_init_early_pSeries()` calls
    /// `set_pci_dma_ops(&dma_iommu_ops)` with no `is_secure_guest()` test
    /// (`arch/powerpc/platforms/pseries/iommu.c: iommu_init_early_pSeries (5.4.301,
    /// 5.10.265, 6.12)`; the 2019 skip, edea902c1c1e, facts §1.9, is not in 5.4.y).
    /// SVMKit models the mapping as 1:1 and makes no `H_PUT_TCE` calls; so it does not
    /// model that 5.4.y never clears `FW_FEATURE_MULTITCE` on a secure guest and would
    /// write TCEs with `H_PUT_TCE_INDIRECT` from a list page the hypervisor cannot read
    /// (`arch/powerpc/platforms/pseries/firmware.c`, `iommu.c: tce_buildmulti_pSeriesLP
    /// (5.4.301)`), where 5.10.y clears `FW_FEATURE_PUT_TCE_IND`
    /// (`firmware.c: fw_hypertas_feature_init (5.10.265)`).
    case tce

    /// `ddw` or `tce`.
    public var description: String { rawValue }
}
