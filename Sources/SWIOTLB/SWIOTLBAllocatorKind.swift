/// Which slot search a pool uses. Both give Linux's guarantees (alignment, offset
/// preservation, no mapping across a 128-slot segment, success whenever a fitting run
/// exists from a fresh cursor); they differ in which run they pick and how fast.
public enum SWIOTLBAllocatorKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// First fit over per-segment free bitmaps with a max-run tree per area: picks the
    /// lowest fitting run, so freed slots are reused while still in cache, and finds
    /// it in O(log segments) however full the pool is.
    case fast
    /// Linux's next-fit search step by step: `list[]` free counts, the per-area
    /// `area->index` cursor, stride, alignment and boundary checks, and the merging
    /// release (`swiotlb_search_pool_area()`, `swiotlb_release_slots()`;
    /// reference/linux-guest-facts.md §2.3, §2.4).
    case reference

    /// The raw value: `fast` or `reference`.
    public var description: String { rawValue }
}
