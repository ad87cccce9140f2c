/// Which slot search a pool uses. `fast` and `reference` give Linux's guarantees
/// (alignment, offset preservation, no mapping across a 128-slot segment, success
/// whenever a fitting run exists from a fresh cursor); they differ in which run they
/// pick and how fast. `linux61` is Linux 6.1's search, with 6.1's weaker guarantees
/// and its endless scan.
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
    /// Linux 6.1's request and search step by step, for the 6.1 kernel profile
    /// (`swiotlb_tbl_map_single()`, `swiotlb_find_slots()`, `swiotlb_do_find_slots()`,
    /// `swiotlb_release_slots()` of `kernel/dma/swiotlb.c (6.1)`, Debian's 6.1.192;
    /// ``SWIOTLBLinux61Pool`` is the same search as a replay model, checked against
    /// the real code): the min-align offset kept below a slot (no pad slots), no
    /// round-up to `alloc_align_mask + 1`, 6.1's stride rules, and a scan that can
    /// spin for ever, which the pool reports as ``SWIOTLBError/scanHung(_:)``.
    case linux61

    /// The raw value: `fast`, `reference` or `linux61`.
    public var description: String { rawValue }
}
