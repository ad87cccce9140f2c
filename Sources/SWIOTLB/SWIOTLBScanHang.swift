/// A map request on which Linux 6.1's slot search never returns
/// (``SWIOTLBError/scanHung(_:)``).
///
/// `swiotlb_do_find_slots()` (`kernel/dma/swiotlb.c: swiotlb_do_find_slots (6.1)`) scans
/// an area with `do { … } while (index != wrap)`: with a `min_align_mask` that leaves an
/// `iotlb_align_mask`, slots of the wrong phase advance by 1 and the others by
/// `stride`, so when no slot of the right phase fits, the index steps over `wrap` and
/// the loop spins for ever with the area's spinlock held (IRQs off): the CPU hangs, and
/// every later map that reaches that area spins on its lock. Commit 7c3940bf81e5
/// ("swiotlb: fix the deadlock in swiotlb_do_find_slots", v6.3) ended the loop after
/// `area_nslabs` checked slots (`kernel/dma/swiotlb.c: swiotlb_search_pool_area (6.12)`).
public struct SWIOTLBScanHang: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The kernel function that spins.
    public static let function = "swiotlb_do_find_slots"
    /// The series whose code spins.
    public static let series = "6.1"
    /// The commit that removed the endless loop.
    public static let fix = "7c3940bf81e5 (\"swiotlb: fix the deadlock in swiotlb_do_find_slots\", v6.3)"

    /// ``function``, in the JSON too.
    public private(set) var function = Self.function
    /// ``series``, in the JSON too.
    public private(set) var series = Self.series
    /// ``fix``, in the JSON too.
    public private(set) var fix = Self.fix

    /// `orig_addr`.
    public let original: UInt64
    /// The mapping size asked for.
    public let size: Int
    /// What the search looked for: `alloc_size + offset` in 6.1.
    public let allocationSize: Int
    /// The caller's `alloc_align_mask`.
    public let allocAlignMask: UInt64
    /// The device's `min_align_mask`.
    public let minAlignMask: UInt64
    /// 6.1's `stride` for the request, in slots.
    public let stride: Int
    /// The area whose scan never ends.
    public let area: Int
    /// Slots in use in the pool when it hung.
    public let usedSlots: Int

    /// Makes a description of a hang.
    public init(
        original: UInt64, size: Int, allocationSize: Int, allocAlignMask: UInt64, minAlignMask: UInt64, stride: Int,
        area: Int, usedSlots: Int
    ) {
        self.original = original
        self.size = size
        self.allocationSize = allocationSize
        self.allocAlignMask = allocAlignMask
        self.minAlignMask = minAlignMask
        self.stride = stride
        self.area = area
        self.usedSlots = usedSlots
    }

    /// The same hang, in another series whose scan spins the same way: e.g. 5.10.y's
    /// `find_slots()` (`kernel/dma/swiotlb.c: find_slots (5.10.265)`, the same unbounded
    /// `do { … } while (index != wrap)`; the fix was not backported there).
    public func named(series: String, function: String) -> SWIOTLBScanHang {
        var hang = self
        hang.series = series
        hang.function = function
        return hang
    }

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The request, where Linux hangs, and the fix.
    public var description: String {
        "Linux \(series) hangs in \(function)(): map of \(size) bytes from \(Self.hex(original)) "
            + "(alloc_align_mask \(Self.hex(allocAlignMask)), min_align_mask \(Self.hex(minAlignMask)), "
            + "stride \(stride) slots) in area \(area) with \(usedSlots) slots used: no slot of the required phase "
            + "fits, the scan steps over its starting index and spins for ever holding the area lock; "
            + "removed by commit \(Self.fix)"
    }
}
