/// Page-size facts for PEF: the Ultravisor works in 64 KiB pages
/// (`SVM_PAGESHIFT` = 16, `open-power/ultravisor include/svm_host.h`), as does a
/// pseries Linux kernel built with 64 KiB pages.
public enum PageSize {
    /// log2 of the page size: 16.
    public static let shift: UInt64 = 16
    /// 64 KiB.
    public static let bytes: UInt64 = 1 << shift
    /// Mask of the offset bits inside a page.
    public static let offsetMask: UInt64 = bytes - 1

    /// Rounds `n` up to a whole number of pages (`PAGE_ALIGN`); `nil` on overflow.
    public static func alignUp(_ n: UInt64) -> UInt64? {
        let (sum, overflow) = n.addingReportingOverflow(offsetMask)
        return overflow ? nil : sum & ~offsetMask
    }

    /// The number of pages that `bytes` bytes need, rounded up.
    public static func pages(covering bytes: UInt64) -> UInt64 { (bytes >> shift) + ((bytes & offsetMask) == 0 ? 0 : 1) }
}

/// A guest physical address (GPA): an offset into the partition's memory.
public struct GuestPhysicalAddress: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address.
    public let rawValue: UInt64

    /// Wraps an address.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps an address.
    public init(_ value: UInt64) { self.rawValue = value }

    /// The 64 KiB frame this address falls in.
    public var frame: GuestFrameNumber { GuestFrameNumber(rawValue: rawValue >> PageSize.shift) }

    /// The offset inside that frame.
    public var pageOffset: UInt64 { rawValue & PageSize.offsetMask }

    /// Whether the address is on a 64 KiB boundary.
    public var isPageAligned: Bool { pageOffset == 0 }

    /// `self + bytes`, or `nil` if that wraps past 2^64.
    public func advanced(by bytes: UInt64) -> GuestPhysicalAddress? {
        let (sum, overflow) = rawValue.addingReportingOverflow(bytes)
        return overflow ? nil : GuestPhysicalAddress(rawValue: sum)
    }

    /// Orders by address.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Hexadecimal, e.g. `0x2fff0000`.
    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A guest frame number (GFN): a GPA divided by the 64 KiB page size, the unit of
/// `UV_SHARE_PAGE` and `UV_UNSHARE_PAGE` (r4).
public struct GuestFrameNumber: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The frame number.
    public let rawValue: UInt64

    /// Wraps a frame number.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps a frame number.
    public init(_ value: UInt64) { self.rawValue = value }

    /// The first address of the frame, or `nil` if the frame lies past 2^64.
    public var address: GuestPhysicalAddress? {
        rawValue > (UInt64.max >> PageSize.shift) ? nil : GuestPhysicalAddress(rawValue: rawValue << PageSize.shift)
    }

    /// Orders by number.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// e.g. `gfn 0x2fff`.
    public var description: String { "gfn 0x" + String(rawValue, radix: 16) }
}
