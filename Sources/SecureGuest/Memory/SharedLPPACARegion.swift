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

    /// Takes the next LPPACA (models the tail of `alloc_shared_lppaca()`):
    /// `BUG_ON(shared_lppaca_size > shared_lppaca_total_size)`, so the last LPPACA may
    /// exactly fill the region (`arch/powerpc/kernel/paca.c: alloc_shared_lppaca
    /// (5.4.301, 5.10.265, 6.1, 6.12)`). The pre-2020 `>=` off-by-one ("powerpc/pseries/svm:
    /// Fix incorrect check for shared_lppaca_size", v5.8; facts §1.4) is in no modelled
    /// series: 5.4.y took the fix (already so in 5.4.117, the oldest 5.4.y read).
    public mutating func next() throws(OverflowError) -> GuestPhysicalAddress {
        let ptr = GuestPhysicalAddress(base.rawValue + used)
        let newUsed = used + Self.lppacaSize
        guard newUsed <= totalSize else { throw OverflowError(used: newUsed, total: totalSize) }
        used = newUsed
        return ptr
    }
}
