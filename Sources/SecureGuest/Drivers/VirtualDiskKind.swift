import PowerABI
public import SWIOTLB

/// Which Linux block driver drives the virtual disk (`--disk`), and so how its data
/// buffers are mapped for DMA. Both talk to the same simulated device
/// (``VirtualBlockProtocol``: a descriptor queue in dma-coherent memory and a doorbell
/// hcall), which only moves bytes; what SWIOTLB sees — the device's
/// `min_align_mask` and the sizes and offsets of the mappings — is the driver's.
///
/// - ``virtio``: virtio-blk-pci, what QEMU PEF guests use (the default). No
///   `min_align_mask`; transfers of at most 256 KiB.
/// - ``nvme``: an NVMe controller behind the same DDW window, driven the way
///   `drivers/nvme/host/pci.c` drives one: `dma_set_min_align_mask(dev,
///   NVME_CTRL_PAGE_SIZE - 1)` (`nvme_reset_work (6.1)`, `nvme_pci_alloc_dev (6.12)`),
///   so a bounce slot keeps the low 12 bits of the buffer address; each request's data
///   mapped as one physical segment with its page offset (`nvme_map_data (6.1, 6.12)`:
///   `dma_map_bvec()` through `nvme_setup_prp_simple()`/`nvme_setup_sgl_simple()`, or
///   `dma_map_sgtable()`; a physically contiguous buffer, which is what SVMKit's callers
///   pass, is one segment either way, while scattered pages would be one each), and
///   requests no larger than `max_hw_sectors` (``VirtualBlockDriver/maximumTransfer``).
///   The block layer accepts buffers aligned to 4 bytes (`nvme_set_queue_limits (6.1)`:
///   `blk_queue_dma_alignment(q, 3)`; `nvme_set_ctrl_limits (6.12)`:
///   `lim->dma_alignment = 3`), so direct I/O from a 512-byte aligned user buffer
///   reaches `swiotlb_map()` with any 512-byte offset in the page.
///
/// `min_align_mask` arrived in v5.12 (with "nvme-pci: set min_align_mask"): 5.10 is
/// modelled with it, as 5.10.y carries the backported series, and 5.4 without it
/// (no such field; ``LinuxVersion/honoursMinAlignMask``, checked in 5.4.301 and
/// 5.10.265).
public enum VirtualDiskKind: String, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// virtio-blk-pci (the default).
    case virtio
    /// An NVMe controller (`min_align_mask` 0xfff).
    case nvme

    /// `NVME_CTRL_PAGE_SIZE` (`drivers/nvme/host/nvme.h (6.1, 6.12)`): 4 KiB.
    public static let nvmeControllerPageSize = 4096

    /// The `struct device_dma_parameters` the driver sets up on `linux`, as the slot
    /// search reads them: `min_align_mask` `NVME_CTRL_PAGE_SIZE - 1` for NVMe (5.10 and
    /// later), none for virtio-blk. Neither sets a segment boundary
    /// (`dma_get_seg_boundary()` is `ULONG_MAX`).
    public func dmaDevice(linux: LinuxVersion) -> DMADevice {
        switch self {
        case .virtio: DMADevice()
        case .nvme:
            linux.honoursMinAlignMask ? DMADevice(minAlignMask: UInt64(Self.nvmeControllerPageSize - 1)) : DMADevice()
        }
    }

    /// `NVME_MAX_KB_SZ << 1`, the driver's own cap on `max_hw_sectors`
    /// (`drivers/nvme/host/pci.c`: 4096 KiB in 6.1, 8192 KiB in 6.12), in bytes.
    static func nvmeDriverLimit(_ linux: LinuxVersion) -> Int {
        linux == .v6_12 ? 8192 << 10 : 4096 << 10
    }

    /// The kernel log's name for the driver: `vblk` or `nvme`.
    var logName: String {
        switch self {
        case .virtio: "vblk"
        case .nvme: "nvme"
        }
    }

    /// `virtio` or `nvme`.
    public var description: String { rawValue }

    /// The device's name in prose: `virtio-blk` or `NVMe`.
    public var displayName: String {
        switch self {
        case .virtio: "virtio-blk"
        case .nvme: "NVMe"
        }
    }
}
