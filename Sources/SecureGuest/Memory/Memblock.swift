public import PowerABI

/// The guest kernel's early physical-memory allocator.
///
/// Models the parts of `mm/memblock.c` the secure-guest code uses:
/// `memblock_alloc_try_nid()` with a lower and upper limit, bottom-up or top-down
/// (`alloc_shared_lppaca()` allocates bottom-up below the PACA limit;
/// reference/linux-guest-facts.md §1.4), `memblock_reserve()` for what firmware
/// and the boot image occupy (kernel, initrd, device tree, reserve-map entries).
public struct Memblock: Hashable, Sendable {
    /// Usable memory: `[0, memorySize)`.
    public let memorySize: UInt64
    /// Reserved or allocated ranges, sorted by address, non-overlapping.
    public private(set) var reserved: [Region] = []

    /// A half-open range of guest-physical addresses with what it holds.
    public struct Region: Hashable, Sendable, CustomStringConvertible {
        /// First address.
        public let start: GuestPhysicalAddress
        /// Length in bytes.
        public let size: UInt64
        /// What it is for (e.g. `kernel`, `lppaca`, `swiotlb`).
        public let purpose: String

        /// One past the last address.
        public var end: GuestPhysicalAddress { GuestPhysicalAddress(start.rawValue &+ size) }

        /// Makes a region of `size` bytes at `start`.
        init(start: GuestPhysicalAddress, size: UInt64, purpose: String) {
            self.start = start
            self.size = size
            self.purpose = purpose
        }

        /// A region over `[start, end)` of raw addresses (the allocator's arithmetic).
        init(_ start: UInt64, _ end: UInt64, purpose: String) {
            self.init(start: GuestPhysicalAddress(start), size: end &- start, purpose: purpose)
        }

        /// The first and one-past-the-last raw addresses, for the allocator's arithmetic.
        var lower: UInt64 { start.rawValue }
        var upper: UInt64 { end.rawValue }

        /// e.g. `[0x400000, 0x800000) kernel`.
        public var description: String { "[\(start), \(end)) \(purpose)" }
    }

    /// An allocation that could not be satisfied.
    public struct AllocationError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Bytes asked for.
        public let size: UInt64
        /// Alignment asked for.
        public let alignment: UInt64
        /// Limits asked for.
        public let limit: Range<GuestPhysicalAddress>
        /// Purpose of the allocation.
        public let purpose: String

        /// A sentence with the numbers.
        public var description: String {
            "memblock: cannot allocate \(size) bytes aligned to 0x\(String(alignment, radix: 16)) for \(purpose) within [\(limit.lowerBound), \(limit.upperBound))"
        }
    }

    /// Memory of `memorySize` bytes with nothing reserved.
    public init(memorySize: UInt64) { self.memorySize = memorySize }

    /// Models `memblock_reserve()`: marks a range used; overlapping or out-of-memory
    /// parts are clipped (firmware may describe ranges past the end of RAM).
    public mutating func reserve(start address: GuestPhysicalAddress, size: UInt64, purpose: String) {
        let start = address.rawValue
        guard size > 0, start < memorySize else { return }
        let end = min(memorySize, start &+ size < start ? memorySize : start + size)
        // Split around existing reservations so the list stays non-overlapping.
        var pieces: [(UInt64, UInt64)] = [(start, end)]
        for r in reserved {
            pieces = pieces.flatMap { (s, e) -> [(UInt64, UInt64)] in
                if e <= r.lower || s >= r.upper { return [(s, e)] }
                var out: [(UInt64, UInt64)] = []
                if s < r.lower { out.append((s, r.lower)) }
                if e > r.upper { out.append((r.upper, e)) }
                return out
            }
        }
        for (s, e) in pieces where e > s { reserved.append(Region(s, e, purpose: purpose)) }
        reserved.sort { $0.start < $1.start }
    }

    /// Models `memblock_alloc_try_nid()`: finds `size` bytes aligned to `alignment`
    /// inside `limit`, the lowest such range when `bottomUp`, else the highest, and
    /// reserves it. A `limit` that holds no memory (e.g. above the memory's end) is an
    /// ``AllocationError``.
    public mutating func allocate(
        size: UInt64, alignment: UInt64 = PageSize.bytes, limit: Range<GuestPhysicalAddress>? = nil,
        bottomUp: Bool = false, purpose: String
    ) throws(AllocationError) -> GuestPhysicalAddress {
        let lo = limit?.lowerBound.rawValue ?? 0, hi = min(limit?.upperBound.rawValue ?? memorySize, memorySize)
        let align = max(1, alignment)
        let err = AllocationError(
            size: size, alignment: align, limit: GuestPhysicalAddress(lo)..<GuestPhysicalAddress(max(lo, hi)),
            purpose: purpose)
        guard size > 0, align & (align - 1) == 0, hi > lo else { throw err }
        // Free gaps inside [lo, hi).
        var gaps: [(UInt64, UInt64)] = []
        var cursor = lo
        for r in reserved where r.upper > lo && r.lower < hi {
            if r.lower > cursor { gaps.append((cursor, min(r.lower, hi))) }
            cursor = max(cursor, r.upper)
        }
        if cursor < hi { gaps.append((cursor, hi)) }
        if bottomUp {
            for (s, e) in gaps {
                let a = (s + align - 1) & ~(align - 1)
                if a >= s, a <= e, e - a >= size {
                    reserve(start: GuestPhysicalAddress(a), size: size, purpose: purpose)
                    return GuestPhysicalAddress(a)
                }
            }
        } else {
            for (s, e) in gaps.reversed() where e - s >= size {
                let a = (e - size) & ~(align - 1)
                if a >= s {
                    reserve(start: GuestPhysicalAddress(a), size: size, purpose: purpose)
                    return GuestPhysicalAddress(a)
                }
            }
        }
        throw err
    }

    /// Models `memblock_phys_free()`: gives `[start, start + size)` back. Parts of
    /// reservations inside the range are removed (a reservation that straddles an end
    /// is cut); parts of the range that were not reserved are ignored.
    public mutating func free(start address: GuestPhysicalAddress, size: UInt64) {
        let start = address.rawValue
        guard size > 0 else { return }
        let end = start &+ size < start ? UInt64.max : start + size
        var kept: [Region] = []
        for r in reserved {
            if r.upper <= start || r.lower >= end {
                kept.append(r)
                continue
            }
            if r.lower < start { kept.append(Region(r.lower, start, purpose: r.purpose)) }
            if r.upper > end { kept.append(Region(end, r.upper, purpose: r.purpose)) }
        }
        reserved = kept.sorted { $0.start < $1.start }
    }

    /// The reserved or allocated range holding `address`, if any (what a fault
    /// report uses to name the owner of an address).
    public func region(containing address: GuestPhysicalAddress) -> Region? {
        var lo = 0
        var hi = reserved.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if reserved[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo < reserved.count, reserved[lo].start <= address else { return nil }
        return reserved[lo]
    }

}
