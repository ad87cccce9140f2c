extension SWIOTLBPool {
    /// Allocates and records a mapping exactly as `map` does, without the copy in.
    /// For measuring the allocator alone; a real driver must use `map`.
    package func reserve(
        original: UInt64, size: Int, allocAlignMask: UInt64 = 0, device: DMADevice = DMADevice(), cpu: Int = 0
    ) throws(SWIOTLBError) -> UInt64 {
        try mapSlots(
            original: original, size: size, attributes: [], allocAlignMask: allocAlignMask, device: device, cpu: cpu,
            copyIn: false)
    }

    /// Like ``reserve(original:size:allocAlignMask:device:cpu:)`` but returns `nil` when
    /// no slots are found, without building the exhaustion report (whose largest-free-run
    /// scan costs microseconds): for timing the allocator itself at high occupancy.
    package func tryReserve(original: UInt64, size: Int, cpu: Int = 0) -> UInt64? {
        guard let request = try? SlotRequest(
            original: original, size: size, allocAlignMask: 0, device: DMADevice(), pageSize: pageSize)
        else { return nil }
        let startArea = cpu & areaMask
        var area = startArea
        repeat {
            table.lock(area)
            if let start = table.allocate(area: area, request) {
                let head = table.recordMapping(area: area, start: start, request)
                table.unlock(area)
                return base &+ (UInt64(head) &<< UInt64(SWIOTLB.slotShift)) &+ UInt64(request.offset & (SWIOTLB.slotSize - 1))
            }
            table.unlock(area)
            area = (area &+ 1) & areaMask
        } while area != startArea
        return nil
    }

    /// Releases a mapping made by ``reserve(original:size:allocAlignMask:device:cpu:)``
    /// (or `map`) with the same checks as `unmap`, without any copy.
    package func release(_ address: UInt64, size: Int) throws(SWIOTLBError) {
        try unmapSlots(address, size: size, copyBack: false)
    }
}
