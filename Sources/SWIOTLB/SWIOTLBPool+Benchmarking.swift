extension SWIOTLBPool {
    /// Allocates and records a mapping exactly as `map` does, without the copy in.
    /// For measuring the allocator alone; a real driver must use `map`.
    @_spi(Benchmarking)
    public func reserve(
        original: UInt64, size: Int, allocAlignMask: UInt64 = 0, device: DMADevice = DMADevice(), cpu: Int = 0
    ) throws(SWIOTLBError) -> UInt64 {
        try mapSlots(
            original: original, size: size, attributes: [], allocAlignMask: allocAlignMask, device: device, cpu: cpu,
            copyIn: false)
    }

    /// Releases a mapping made by ``reserve(original:size:allocAlignMask:device:cpu:)``
    /// (or `map`) with the same checks as `unmap`, without any copy.
    @_spi(Benchmarking)
    public func release(_ address: UInt64, size: Int) throws(SWIOTLBError) {
        try unmapSlots(address, size: size, copyBack: false)
    }
}
