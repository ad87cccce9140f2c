/// A snapshot of the pool's counters: what Linux exposes in debugfs, pool-wide
/// (reference/linux-guest-facts.md §2.8), plus per-area detail it does not.
///
/// The pool-wide counters are atomics updated outside the area locks, as Linux's
/// `total_used` and `used_hiwater` are; the per-area counters live in each area under
/// its lock. While other threads map, the snapshot is approximate, as Linux's is.
public struct SWIOTLBStatistics: Sendable, Hashable, CustomStringConvertible {
    /// `io_tlb_nslabs`: slots in the pool.
    public let totalSlots: Int
    /// `io_tlb_used`: slots held by mappings now (pool-wide counter). Slots idle in the
    /// cache of a claimed ``SWIOTLBCPU`` count too (no other CPU can get them; the handle
    /// moves runs between its mappings and its cache without touching a shared
    /// counter): ``cachedSlots`` says how many; without CPU handles it is 0 and this is
    /// Linux's count.
    public let usedSlots: Int
    /// Of ``usedSlots``, the slots idle in claimed ``SWIOTLBCPU`` caches (a snapshot).
    public let cachedSlots: Int
    /// `io_tlb_used_hiwater`: the most slots in use (as ``usedSlots`` counts them) at one
    /// instant, pool-wide, since the pool was made or the mark was reset. Exact: the
    /// counter changes only when slots leave or return to an area's free space, under
    /// that area's lock, with Linux's atomic add and compare-exchange. Each area's own peak is
    /// ``Area/highWaterSlots``; their sum (``sumOfAreaHighWaterSlots``) can exceed this
    /// when areas peaked at different times.
    public let highWaterSlots: Int
    /// Map calls that found no room ("swiotlb buffer is full").
    public let failures: Int
    /// Per-area detail, in area order.
    public let areas: [Area]

    /// Makes a snapshot from per-area detail and the pool-wide counters.
    public init(areas: [Area], usedSlots: Int, highWaterSlots: Int, cachedSlots: Int = 0) {
        self.areas = areas
        totalSlots = areas.reduce(0) { $0 + $1.slots }
        self.usedSlots = usedSlots
        self.cachedSlots = cachedSlots
        self.highWaterSlots = highWaterSlots
        failures = areas.reduce(0) { $0 + $1.failures }
    }

    /// The sum of the areas' own peaks: an upper bound of ``highWaterSlots`` (what this
    /// type reported as the high-water mark before issue 18).
    public var sumOfAreaHighWaterSlots: Int { areas.reduce(0) { $0 + $1.highWaterSlots } }

    /// The longest run of free slots anywhere (a run never crosses a segment).
    public var largestFreeRun: Int { areas.map(\.largestFreeRun).max() ?? 0 }

    /// One area's counters.
    public struct Area: Sendable, Hashable {
        /// The area's index.
        public let index: Int
        /// Slots in the area (`area_nslabs`).
        public let slots: Int
        /// `area->used`.
        public let usedSlots: Int
        /// The most slots this area has held at once.
        public let highWaterSlots: Int
        /// The longest run of free slots in the area.
        public let largestFreeRun: Int
        /// Map calls that started in this area and found no room anywhere.
        public let failures: Int

        /// Makes an area snapshot.
        public init(index: Int, slots: Int, usedSlots: Int, highWaterSlots: Int, largestFreeRun: Int, failures: Int) {
            self.index = index
            self.slots = slots
            self.usedSlots = usedSlots
            self.highWaterSlots = highWaterSlots
            self.largestFreeRun = largestFreeRun
            self.failures = failures
        }
    }

    /// E.g. `32768 slots, 120 used, high-water 300, largest free run 128, 0 failures, 2 areas`.
    public var description: String {
        "\(totalSlots) slots, \(usedSlots) used, high-water \(highWaterSlots), largest free run \(largestFreeRun), "
            + "\(failures) failures, \(areas.count) area\(areas.count == 1 ? "" : "s")"
    }
}
