/// The arguments of one `swiotlb_tbl_map_single()` call (kernel/dma/swiotlb.c, 6.12):
/// the original buffer, its size, the caller's `alloc_align_mask`, and the device's
/// `min_align_mask` and segment boundary, plus the CPU whose area the search starts in.
public struct SWIOTLBReplayMap: Sendable, Hashable, Decodable {
    /// The id a later unmap names.
    public var id: UInt64
    /// `orig_addr`: the original buffer's physical address.
    public var origAddr: UInt64
    /// `mapping_size` (and `alloc_size` as streaming DMA passes it).
    public var size: Int
    /// `alloc_align_mask` (0 for streaming mappings).
    public var allocAlignMask: UInt64
    /// `dma_get_min_align_mask(dev)` (0 unless set, NVMe uses 0xfff).
    public var minAlignMask: UInt64
    /// `dma_get_seg_boundary(dev)` (default `ULONG_MAX`, no boundary).
    public var segBoundaryMask: UInt64
    /// `raw_smp_processor_id()`: the search starts in area `cpu & (nareas - 1)`.
    public var cpu: Int

    /// A map request; the masks default to "nothing asked".
    public init(
        id: UInt64, origAddr: UInt64, size: Int, allocAlignMask: UInt64 = 0, minAlignMask: UInt64 = 0,
        segBoundaryMask: UInt64 = .max, cpu: Int = 0
    ) {
        self.id = id
        self.origAddr = origAddr
        self.size = size
        self.allocAlignMask = allocAlignMask
        self.minAlignMask = minAlignMask
        self.segBoundaryMask = segBoundaryMask
        self.cpu = cpu
    }

    /// The device the request is for, as ``SWIOTLBPool`` takes it.
    public var device: DMADevice { DMADevice(minAlignMask: minAlignMask, segmentBoundaryMask: segBoundaryMask) }

    enum CodingKeys: String, CodingKey {
        case id, size, cpu
        case origAddr = "orig_addr"
        case allocAlignMask = "alloc_align_mask"
        case minAlignMask = "min_align_mask"
        case segBoundaryMask = "seg_boundary_mask"
    }

    /// Decodes a map op; `id`, `orig_addr` and `size` are required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try c.decode(ReplayNumber.self, forKey: .id).value
        self.origAddr = try c.decode(ReplayNumber.self, forKey: .origAddr).value
        self.size = try c.decode(ReplayNumber.self, forKey: .size).int(named: "size")
        self.allocAlignMask = try c.decodeIfPresent(ReplayNumber.self, forKey: .allocAlignMask)?.value ?? 0
        self.minAlignMask = try c.decodeIfPresent(ReplayNumber.self, forKey: .minAlignMask)?.value ?? 0
        self.segBoundaryMask = try c.decodeIfPresent(ReplayNumber.self, forKey: .segBoundaryMask)?.value ?? .max
        self.cpu = try c.decodeIfPresent(ReplayNumber.self, forKey: .cpu)?.int(named: "cpu") ?? 0
    }

    /// Why Linux would not accept these arguments at all, or `nil`. Linux takes the
    /// masks as `unsigned int` (alloc_align_mask) and expects low masks (`2^k - 1`);
    /// the segment boundary must cover at least a slot. A refusal at map time (too
    /// large, impossible alignment, full pool) is a result, not an input error.
    var problem: String? {
        if size <= 0 || size > 1 << 30 { return "size \(size) is outside 1...2^30" }
        if allocAlignMask & (allocAlignMask &+ 1) != 0 || allocAlignMask > UInt64(UInt32.max) {
            return "alloc_align_mask \(hex(allocAlignMask)) is not a 32-bit low mask (2^k - 1)"
        }
        if minAlignMask & (minAlignMask &+ 1) != 0 || minAlignMask > UInt64(UInt32.max) {
            return "min_align_mask \(hex(minAlignMask)) is not a 32-bit low mask (2^k - 1)"
        }
        if segBoundaryMask & (segBoundaryMask &+ 1) != 0 || segBoundaryMask < UInt64(SWIOTLB.slotSize - 1) {
            return "seg_boundary_mask \(hex(segBoundaryMask)) is not a low mask of at least 0x7ff"
        }
        if origAddr > UInt64.max - UInt64(size) { return "orig_addr \(hex(origAddr)) + size wraps the address space" }
        if cpu < 0 || cpu > Int(Int32.max) { return "cpu \(cpu) is outside 0...2^31-1" }
        return nil
    }
}
