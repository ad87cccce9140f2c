extension SlotRequest {
    /// A request as Linux 6.1 builds it (``SWIOTLBAllocatorKind/linux61``):
    /// `swiotlb_map()` passes `alloc_size = mapping_size` and `swiotlb_tbl_map_single()`
    /// asks `swiotlb_find_slots()` for `alloc_size + offset` bytes, where
    /// `swiotlb_align_offset()` is `orig_addr & min_align_mask & (IO_TLB_SIZE - 1)` (never a
    /// pad slot) and nothing rounds the size up to `alloc_align_mask + 1`
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single, swiotlb_align_offset (6.1)`).
    /// `stride` is 6.1's (``Linux61SlotSearch/stride(allocationSize:allocAlignMask:minAlignMask:pageSize:)``).
    ///
    /// The mask and wrap checks are the other kinds'; a request longer than a 128-slot
    /// segment is searched for as 6.1 does (no slot's `list` reaches it, so the scan
    /// fails, or spins for ever) rather than refused up front.
    static func linux61(
        original: UInt64, size: Int, allocAlignMask callerMask: UInt64, device: DMADevice, pageSize: Int
    ) throws(SWIOTLBError) -> SlotRequest {
        guard size > 0 else { throw .invalidSize(size, operation: .map) }
        let minAlign = device.minAlignMask
        // 6.1 keeps both masks in an unsigned int.
        guard callerMask & (callerMask &+ 1) == 0, callerMask <= UInt64(UInt32.max) else {
            throw .invalidMask(name: "alloc_align_mask", value: callerMask)
        }
        guard minAlign & (minAlign &+ 1) == 0, minAlign <= UInt64(UInt32.max) else {
            throw .invalidMask(name: "min_align_mask", value: minAlign)
        }
        let boundary = device.segmentBoundaryMask
        guard boundary & (boundary &+ 1) == 0, boundary >= UInt64(SWIOTLB.slotSize - 1) else {
            throw .invalidMask(name: "segment_boundary_mask", value: boundary)
        }
        guard original <= UInt64.max - UInt64(size) else { throw .originalOutOfRange(original: original, size: size) }
        let slotMask = UInt64(SWIOTLB.slotSize - 1)
        let offset = Int(original & minAlign & slotMask)
        var request = SlotRequest(
            original: original, mappingSize: size, offset: offset, allocationSize: size + offset,
            callerAllocAlignMask: callerMask, allocAlignMask: callerMask | slotMask,
            iotlbAlignMask: minAlign & ~(callerMask | slotMask), minAlignMask: minAlign, boundaryMask: boundary)
        request.stride = Linux61SlotSearch.stride(
            allocationSize: UInt64(size + offset), allocAlignMask: callerMask, minAlignMask: minAlign,
            pageSize: pageSize)
        return request
    }
}
