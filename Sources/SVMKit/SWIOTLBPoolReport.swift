/// The boot report's `swiotlbPool`: whether the guest kernel has a default SWIOTLB
/// bounce pool, whether streaming DMA is forced through it, and where it is.
///
/// On 6.1 and 6.12 a secure guest booted without `swiotlb=force` has none
/// (`LinuxVersion.secureGuestPoolWithoutForce`): `present` false, and its virtual disk
/// DMAs straight at secure memory.
public struct SWIOTLBPoolReport: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The kernel made a pool (`io_tlb_default_mem.defpool.nslabs != 0`).
    public var present: Bool
    /// dma-direct bounces every streaming mapping (`force_bounce`, or 5.x's
    /// `swiotlb_force`).
    public var forced: Bool
    /// The pool's first guest-physical address as `0x…`, or `nil` without a pool.
    public var base: String?
    /// The pool's size in bytes (0 without a pool).
    public var bytes: Int
    /// The slot search the pool runs (`LinuxVersion.swiotlbAllocator`: `linux61` on the
    /// 6.1 profile), or `nil` without a pool.
    public var allocator: String?

    /// Makes a report; `base` and `allocator` are `nil` without a pool.
    public init(present: Bool, forced: Bool, base: UInt64?, bytes: Int, allocator: SWIOTLBAllocatorKind? = nil) {
        self.present = present
        self.forced = forced
        self.base = base.map { "0x" + String($0, radix: 16) }
        self.bytes = bytes
        self.allocator = allocator?.rawValue
    }

    private enum CodingKeys: String, CodingKey { case present, forced, base, bytes, allocator }

    /// Encodes every key, `base` as `null` without a pool, so scripts always find it.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(present, forKey: .present)
        try c.encode(forced, forKey: .forced)
        try c.encode(base, forKey: .base)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(allocator, forKey: .allocator)
    }

    /// e.g. `present at 0x4000000, 64 MiB, forced` or `none`.
    public var description: String {
        guard present else { return forced ? "none (bouncing forced: mappings fail)" : "none" }
        return "present at \(base ?? "?"), \(bytes >> 20) MiB, " + (forced ? "forced" : "not forced")
            + (allocator.map { ", \($0) search" } ?? "")
    }
}
