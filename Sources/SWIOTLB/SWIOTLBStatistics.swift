/// A snapshot of the pool's counters (what Linux exposes in debugfs, plus per-area
/// detail it does not; reference/linux-guest-facts.md §2.8).
///
/// Counters live in each area under its lock, so the fast path shares no cache line
/// between areas. Totals are sums over the areas: exact when no mapping is in flight,
/// and, like Linux's own unlocked sum, approximate while other threads map.
public struct SWIOTLBStatistics: Sendable, Hashable, CustomStringConvertible {
    /// `io_tlb_nslabs`: slots in the pool.
    public let totalSlots: Int
    /// `io_tlb_used`: slots held by mappings now.
    public let usedSlots: Int
    /// The sum of the areas' high-water marks: `io_tlb_used_hiwater` exactly with one
    /// area, an upper bound of the simultaneous peak with several.
    public let highWaterSlots: Int
    /// Map calls that found no room ("swiotlb buffer is full").
    public let failures: Int
    /// Per-area detail, in area order.
    public let areas: [Area]

    /// Makes a snapshot from per-area detail.
    public init(areas: [Area]) {
        self.areas = areas
        totalSlots = areas.reduce(0) { $0 + $1.slots }
        usedSlots = areas.reduce(0) { $0 + $1.usedSlots }
        highWaterSlots = areas.reduce(0) { $0 + $1.highWaterSlots }
        failures = areas.reduce(0) { $0 + $1.failures }
    }

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
