/// Everything about a map request that found no room, so that the failure explains
/// itself instead of surfacing as a random I/O error (reference/peers.md (c) 1;
/// reference/linux-guest-facts.md §2.5, §4.1).
public struct SWIOTLBExhaustion: Sendable, Hashable, CustomStringConvertible {
    /// The pool size in bytes.
    public let poolSize: Int
    /// The pool size in slots.
    public let totalSlots: Int
    /// The mapping size asked for.
    public let requestSize: Int
    /// The bytes the allocation needed after the min-align offset and the alignment
    /// round-up (`alloc_size`).
    public let allocationSize: Int
    /// The slots that needed, all in one segment.
    public let slotsNeeded: Int
    /// The caller's `alloc_align_mask`.
    public let allocAlignMask: UInt64
    /// The device's `min_align_mask`.
    public let minAlignMask: UInt64
    /// The alignment the search enforced, in bytes (after the page rule and the slot floor).
    public let effectiveAlignment: Int
    /// Slots in use when the search failed.
    public let usedSlots: Int
    /// The pool's high-water mark (see ``SWIOTLBStatistics/highWaterSlots``).
    public let highWaterSlots: Int
    /// The longest free run anywhere in the pool, in slots.
    public let largestFreeRun: Int
    /// The area holding that run.
    public let largestFreeRunArea: Int
    /// The area the search started in (the CPU hint's area).
    public let startArea: Int
    /// How many areas the pool has (all were searched).
    public let areaCount: Int
    /// The size Linux prints as `sz`: ``allocationSize`` (6.12's local `size`), or the
    /// mapping size for a ``SWIOTLBAllocatorKind/linux61`` pool, whose
    /// `swiotlb_tbl_map_single()` prints `alloc_size` (`kernel/dma/swiotlb.c:
    /// swiotlb_tbl_map_single (6.1)`).
    public var printedSize: Int { linux61 ? requestSize : allocationSize }
    /// The pool runs 6.1's search.
    let linux61: Bool

    /// Linux's line, "swiotlb buffer is full (sz: 4096 bytes), total 32768 (slots), used 32767 (slots)".
    ///
    /// `sz` is ``printedSize``: on 6.12 the aligned allocation size (``allocationSize``:
    /// the mapping size plus the min-align offset, rounded up to `alloc_align_mask + 1`),
    /// not the mapping size: `swiotlb_tbl_map_single()` prints its local `size`
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.12)`); on 6.1 `alloc_size`, the
    /// mapping size.
    public var kernelMessage: String {
        Self.kernelMessage(size: printedSize, totalSlots: totalSlots, usedSlots: usedSlots)
    }

    /// `swiotlb_tbl_map_single()`'s "swiotlb buffer is full (sz: %zd bytes), total %lu
    /// (slots), used %lu (slots)" with these numbers (`kernel/dma/swiotlb.c:
    /// swiotlb_tbl_map_single (6.1, 6.12)`), for a caller that has no exhaustion report,
    /// e.g. a guest printing it for a ``SWIOTLBError/mappingTooLarge(size:allocationSize:maximum:)``.
    public static func kernelMessage(size: Int, totalSlots: Int, usedSlots: Int) -> String {
        "swiotlb buffer is full (sz: \(size) bytes), total \(totalSlots) (slots), used \(usedSlots) (slots)"
    }

    /// The explanation: sizes, alignment, usage, high-water, largest free run and areas.
    public var description: String {
        func kib(_ bytes: Int) -> String {
            bytes % 1024 == 0 ? "\(bytes / 1024) KiB" : "\(bytes) bytes"
        }
        let alignment =
            "alloc_align_mask 0x\(String(allocAlignMask, radix: 16)), min_align_mask 0x\(String(minAlignMask, radix: 16)), "
            + "aligned to \(kib(effectiveAlignment))"
        return "SWIOTLB pool exhausted: request of \(requestSize) bytes needs \(slotsNeeded) contiguous slots "
            + "(\(allocationSize) bytes; \(alignment)); pool \(kib(poolSize)) = \(totalSlots) slots, \(usedSlots) used, "
            + "high-water \(highWaterSlots); largest free run \(largestFreeRun) slots (\(kib(largestFreeRun * SWIOTLB.slotSize))) "
            + "in area \(largestFreeRunArea); search started in area \(startArea) of \(areaCount)"
    }
}
