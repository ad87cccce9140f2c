/// A range of the flat physical address space: the pool's region, or the page-aligned
/// range handed to the share hook.
public struct BounceRegion: Sendable, Hashable, CustomStringConvertible {
    /// The first address.
    public let base: UInt64
    /// The length in bytes.
    public let size: Int

    /// A region of `size` bytes at `base`.
    public init(base: UInt64, size: Int) {
        self.base = base
        self.size = size
    }

    /// One past the last address.
    public var end: UInt64 { base &+ UInt64(size) }

    /// Whether `address` lies inside.
    public func contains(_ address: UInt64) -> Bool { address >= base && address - base < UInt64(size) }

    /// Linux's boot-log form, e.g. `[mem 0x0000000010000000-0x0000000014000000] (64MB)`.
    ///
    /// The end printed is ``end``, one past the last byte, as `swiotlb_print_info()`
    /// prints `mem->end` (= `mem->start + bytes`, set in `swiotlb_init_io_tlb_pool()`)
    /// with `%pa` (`kernel/dma/swiotlb.c: swiotlb_print_info (6.12)`).
    public var description: String {
        func hex(_ v: UInt64) -> String {
            let digits = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        return "[mem \(hex(base))-\(hex(end))] (\(size >> 20)MB)"
    }
}
