extension SWIOTLBReplayScenario {
    /// A request stream on which Linux 6.1's slot search never returns
    /// (``SWIOTLBScanHang``), for `pool`'s area 0 (every op on CPU 0):
    ///
    /// 1. `area_nslabs - 2` one-slot maps fill slots `0 ..< area_nslabs - 2`, leaving
    ///    `area->index` at `area_nslabs - 2`, an even slot;
    /// 2. unmapping the even ones from slot 2 up leaves free single slots on the even
    ///    phase only, and two free slots at the end (the last one odd);
    /// 3. a 4 KiB map with `min_align_mask` 0xfff from an original whose bit 11 differs
    ///    from the pool start's needs two slots starting on the odd phase. 6.1 computes
    ///    `stride` 2 and `wrap = ALIGN(index, 2)`, an even slot, steps to the odd phase
    ///    (`+1`), finds no odd slot with two free after it, and walks the odd slots for
    ///    ever (`+2`, wrapping to 0 and back to the odd phase), never meeting the even
    ///    `wrap` (`kernel/dma/swiotlb.c: swiotlb_do_find_slots (6.1)`).
    ///
    /// Checked against the real 6.1 code by the Linux oracle; 6.12 fails the same map
    /// cleanly ("swiotlb buffer is full").
    public static func linux61ScanHang(pool: SWIOTLBReplayPool, name: String = "linux61-scan-hang") -> Self {
        let areaSlots = pool.nslabs / max(pool.nareas, 1)
        let filled = max(areaSlots - 2, 0)
        var ops: [SWIOTLBReplayOperation] = (0..<filled).map {
            .map(SWIOTLBReplayMap(id: UInt64($0), origAddr: 0x10000, size: SWIOTLB.slotSize))
        }
        ops += stride(from: 2, to: filled, by: 2).map { .unmap(id: UInt64($0)) }
        let slotBit = UInt64(SWIOTLB.slotSize)
        ops.append(
            .map(
                SWIOTLBReplayMap(
                    id: UInt64(areaSlots), origAddr: slotBit ^ (pool.start & slotBit), size: 2 * SWIOTLB.slotSize,
                    minAlignMask: 2 * slotBit - 1)))
        return SWIOTLBReplayScenario(name: name, pool: pool, ops: ops)
    }
}
