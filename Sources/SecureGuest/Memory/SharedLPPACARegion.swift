public import PowerABI

/// The packed LPPACA region of a secure guest.
///
/// Models `alloc_shared_lppaca()` in `arch/powerpc/kernel/paca.c`
/// (reference/linux-guest-facts.md §1.4): when MSR(S) is set, all vCPUs' 1 KiB
/// LPPACAs come from one page-aligned region of PAGE_ALIGN(nr_cpu_ids × 0x400)
/// bytes, shared with one `UV_SHARE_PAGE` the first time; each later CPU takes the
/// next 1 KiB. The overflow check is `used > total`; Linux once had `>=`, which
/// crashed exactly when the CPU count filled whole 64 KiB pages (64, 128, … CPUs).
public struct SharedLPPACARegion: Hashable, Sendable {
    /// `LPPACA_SIZE`: 0x400 bytes.
    public static let lppacaSize: UInt64 = 0x400

    /// Guest-physical base of the region.
    public let base: GuestPhysicalAddress
    /// PAGE_ALIGN(nr_cpu_ids × 0x400).
    public let totalSize: UInt64
    /// Bytes handed out so far.
    public private(set) var used: UInt64 = 0

    /// The region's size for `cpuCount` CPUs: `PAGE_ALIGN(nr_cpu_ids * LPPACA_SIZE)` with
    /// `pageSize`-byte pages (64 KiB by default, as on pseries; a 4 KiB-page kernel
    /// shares a smaller region, checked against paca.c by the Linux oracle).
    public static func totalSize(cpuCount: Int, pageSize: UInt64 = 0x10000) -> UInt64 {
        let bytes = UInt64(max(0, cpuCount)) * lppacaSize
        let mask = max(pageSize, 1) - 1
        return (bytes + mask) & ~mask
    }

    /// A region at `base` for `cpuCount` CPUs with `pageSize`-byte pages.
    public init(base: GuestPhysicalAddress, cpuCount: Int, pageSize: UInt64 = 0x10000) {
        self.base = base
        self.totalSize = Self.totalSize(cpuCount: cpuCount, pageSize: pageSize)
    }

    /// The region is full: the `BUG_ON()` of `alloc_shared_lppaca()`.
    public struct OverflowError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Bytes that would be in use.
        public let used: UInt64
        /// The region size.
        public let total: UInt64

        /// A sentence with the numbers.
        public var description: String { "shared LPPACA region overflow: \(used) bytes needed, \(total) available" }
    }

    /// Takes the next LPPACA (models the tail of `alloc_shared_lppaca()`). With
    /// `offByOne` the check is the pre-2020 `BUG_ON(shared_lppaca_size >=
    /// shared_lppaca_total_size)`, which also fires when the last LPPACA exactly fills
    /// the region (``LinuxVersion/lppacaOverflowOffByOne``); otherwise `>`
    /// (`arch/powerpc/kernel/paca.c: alloc_shared_lppaca (6.12)`).
    public mutating func next(offByOne: Bool = false) throws(OverflowError) -> GuestPhysicalAddress {
        let ptr = GuestPhysicalAddress(base.rawValue + used)
        let newUsed = used + Self.lppacaSize
        guard offByOne ? newUsed < totalSize : newUsed <= totalSize else { throw OverflowError(used: newUsed, total: totalSize) }
        used = newUsed
        return ptr
    }
}
