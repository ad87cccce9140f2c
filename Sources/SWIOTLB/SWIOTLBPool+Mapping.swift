#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SWIOTLBPool {
    /// One bounce copy through ``memory`` (directly when it is host memory).
    @inline(__always)
    func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
        if !Self.copyInHost(hostBytes, hostSize, from: source, to: destination, count: count) {
            // Other memory, or a range host memory refuses (it then names it).
            try memory.copy(from: source, to: destination, count: count)
        }
    }

    /// The host-memory copy: `memmove` after the bounds checks, when `hostBytes` is
    /// set and both ranges lie inside its `hostSize` bytes; `false` otherwise.
    @inline(__always)
    static func copyInHost(
        _ hostBytes: UnsafeMutableRawPointer?, _ hostSize: UInt64, from source: UInt64, to destination: UInt64,
        count: Int
    ) -> Bool {
        guard let hostBytes, count >= 0, source <= hostSize, UInt64(count) <= hostSize &- source,
            destination <= hostSize, UInt64(count) <= hostSize &- destination
        else { return false }
        memmove(hostBytes + Int(destination), hostBytes + Int(source), count)
        return true
    }

    /// Maps `size` bytes at `original` through the pool and returns the bounce address
    /// the device must use. Models `swiotlb_tbl_map_single()`.
    ///
    /// The search starts in area `cpu & (areaCount - 1)` and tries every area in turn
    /// (§2.3 step 2). The bounce address keeps `original`'s bits under
    /// `device.minAlignMask` (pad slots in front when those bits exceed a slot), and the
    /// allocation is aligned to `allocAlignMask + 1`, or to a page when the request is a
    /// page or more and nothing else was asked. Map always copies `size` bytes in, for
    /// every direction and even with ``DMAAttributes/skipCPUSync``, so that bytes the
    /// device does not write keep the original data (§2.4).
    ///
    /// - Throws: ``SWIOTLBError/exhausted(_:)`` when no run fits (the error explains
    ///   why), ``SWIOTLBError/mappingTooLarge(size:allocationSize:maximum:)``,
    ///   ``SWIOTLBError/invalidMask(name:value:)``, ``SWIOTLBError/invalidSize(_:operation:)``,
    ///   ``SWIOTLBError/copyFailed(_:operation:)`` (the slots are released again).
    public func map(
        original: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = [],
        allocAlignMask: UInt64 = 0, device: DMADevice = DMADevice(), cpu: Int = 0
    ) throws(SWIOTLBError) -> UInt64 {
        try mapSlots(
            original: original, size: size, attributes: attributes, allocAlignMask: allocAlignMask, device: device,
            cpu: cpu, copyIn: true)
    }

    @inline(__always)
    func mapSlots(
        original: UInt64, size: Int, attributes: DMAAttributes, allocAlignMask: UInt64, device: DMADevice,
        cpu: Int, copyIn: Bool
    ) throws(SWIOTLBError) -> UInt64 {
        let request = try slotRequest(original: original, size: size, allocAlignMask: allocAlignMask, device: device)
        return try placeRecorded(
            request, allocAlignMask: allocAlignMask, device: device, cpu: cpu, attributes: attributes, copyIn: copyIn)
    }

    /// Places `request` from area `cpu`'s on and hands the outcome to the recorder;
    /// throws the exhaustion report when no area has room.
    @inline(__always)
    func placeRecorded(
        _ request: SlotRequest, allocAlignMask: UInt64, device: DMADevice, cpu: Int, attributes: DMAAttributes,
        copyIn: Bool
    ) throws(SWIOTLBError) -> UInt64 {
        let original = request.original
        let size = request.mappingSize
        guard let address = try place(request, cpu: cpu, copyIn: copyIn) else {
            if recorder != nil {
                recordMap(
                    original: original, size: size, allocAlignMask: allocAlignMask, device: device, cpu: cpu,
                    address: nil)
            }
            throw exhaustion(request, startArea: cpu & areaMask, attributes: attributes)
        }
        if recorder != nil {
            recordMap(
                original: original, size: size, allocAlignMask: allocAlignMask, device: device, cpu: cpu,
                address: address)
        }
        return address
    }

    /// Like `map`, but returns `nil` when no run fits, without counting a failure,
    /// building the exhaustion report, logging or recording (for a caller with other
    /// pools to try). A map that succeeds is recorded.
    func mapIfRoom(
        original: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes, allocAlignMask: UInt64,
        device: DMADevice, cpu: Int
    ) throws(SWIOTLBError) -> UInt64? {
        let request = try slotRequest(original: original, size: size, allocAlignMask: allocAlignMask, device: device)
        guard let address = try place(request, cpu: cpu, copyIn: true) else { return nil }
        if recorder != nil {
            recordMap(
                original: original, size: size, allocAlignMask: allocAlignMask, device: device, cpu: cpu,
                address: address)
        }
        return address
    }

    /// The request as this pool's kernel builds it (``SWIOTLBAllocatorKind/linux61``:
    /// 6.1's; the others: 6.12's).
    @inline(__always)
    func slotRequest(
        original: UInt64, size: Int, allocAlignMask: UInt64, device: DMADevice
    ) throws(SWIOTLBError) -> SlotRequest {
        allocator == .linux61
            ? try .linux61(original: original, size: size, allocAlignMask: allocAlignMask, device: device, pageSize: pageSize)
            : try SlotRequest(
                original: original, size: size, allocAlignMask: allocAlignMask, device: device, pageSize: pageSize)
    }

    /// Hands a map and its outcome to the recorder (off the hot path).
    @inline(never)
    func recordMap(
        original: UInt64, size: Int, allocAlignMask: UInt64, device: DMADevice, cpu: Int, address: UInt64?
    ) {
        recorder?.record(
            .map(
                SWIOTLBTraceEvent.Map(
                    original: original, size: size, allocAlignMask: allocAlignMask, device: device, cpu: cpu,
                    address: address)))
    }

    /// Searches the areas from the CPU's, records the mapping and copies in; `nil` when
    /// no area has room.
    @inline(__always)
    func place(_ request: SlotRequest, cpu: Int, copyIn: Bool) throws(SWIOTLBError) -> UInt64? {
        let startArea = cpu & areaMask
        var area = startArea
        var head = -1
        while true {
            table.lock(area)
            if let start = table.allocate(area: area, request) {
                head = table.recordMapping(area: area, start: start, request)
                table.unlock(area)
                break
            }
            if allocator == .linux61 && table.linux61Hangs(area: area, request) {
                table.unlock(area)
                throw scanHung(request, area: area, cpu: cpu)
            }
            table.unlock(area)
            area = (area &+ 1) & areaMask
            if area == startArea { break }
        }
        guard head >= 0 else { return nil }
        let address =
            base &+ (UInt64(head) &<< UInt64(SWIOTLB.slotShift)) &+ UInt64(request.offset & (SWIOTLB.slotSize - 1))
        if copyIn {
            do {
                try copy(from: request.original, to: address, count: request.mappingSize)
            } catch {
                table.lock(area)
                table.discardMapping(area: area, head: head)
                table.unlock(area)
                throw .copyFailed(error, operation: .map)
            }
        }
        return address
    }

    /// Unmaps the mapping that `map` returned `address` for. Models
    /// `swiotlb_tbl_unmap_single()`: for ``DMADirection/fromDevice`` and
    /// ``DMADirection/bidirectional`` without ``DMAAttributes/skipCPUSync`` the bounce
    /// data is copied back to the original first; then the slots are released and
    /// merged with their free neighbours.
    ///
    /// - Throws: misuse as typed errors, the pool unchanged:
    ///   ``SWIOTLBError/alreadyUnmapped(_:operation:)`` (double unmap),
    ///   ``SWIOTLBError/notMapped(_:operation:)``, ``SWIOTLBError/notMappingStart(_:mappingAddress:operation:)``,
    ///   ``SWIOTLBError/sizeMismatch(_:size:mappedSize:operation:)``, ``SWIOTLBError/notBounceAddress(_:operation:)``;
    ///   and ``SWIOTLBError/copyFailed(_:operation:)`` (the slots are released anyway).
    public func unmap(
        _ address: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = []
    ) throws(SWIOTLBError) {
        try unmapSlots(address, size: size, copyBack: direction.copiesToCPU && !attributes.contains(.skipCPUSync))
    }

    @inline(__always)
    func unmapSlots(_ address: UInt64, size: Int, copyBack: Bool) throws(SWIOTLBError) {
        if let recorder { recorder.record(.unmap(address: address, size: size)) }
        let byte = address &- base
        guard byte < poolBytes else { throw .notBounceAddress(address, operation: .unmap) }
        let head = Int(truncatingIfNeeded: byte &>> UInt64(SWIOTLB.slotShift))
        let area = table.area(ofSlot: head)
        table.lock(area)
        guard table.isLiveHead(head, offset: Int(byte & UInt64(SWIOTLB.slotSize - 1))) else {
            let error = unmapMisuse(address, slot: head, byte: byte)
            table.unlock(area)
            throw error
        }
        let record = table.records[head]
        guard Int(record.mappingSize) == size else {
            table.unlock(area)
            throw .sizeMismatch(address, size: size, mappedSize: Int(record.mappingSize), operation: .unmap)
        }
        let start = head &- Int(record.padSlots)
        let slots = Int(record.slots)
        table.retire(head: head)
        if !copyBack {
            table.free(area: area, start: start, count: slots)
            table.unlock(area)
            return
        }
        // Copy back outside the lock; the retired slots cannot be handed out meanwhile.
        table.unlock(area)
        var failure: BounceMemoryError?
        do {
            try copy(from: address, to: record.original, count: size)
        } catch {
            failure = error
        }
        table.lock(area)
        table.free(area: area, start: start, count: slots)
        table.unlock(area)
        if let failure { throw .copyFailed(failure, operation: .unmap) }
    }

    func unmapMisuse(_ address: UInt64, slot: Int, byte: UInt64) -> SWIOTLBError {
        switch table.lookup(slot: slot, byte: byte) {
        case .live(let head):
            return .notMappingStart(address, mappingAddress: base &+ table.mappingStart(head), operation: .unmap)
        case .released:
            return .alreadyUnmapped(address, operation: .unmap)
        case .none:
            return .notMapped(address, operation: .unmap)
        }
    }

    /// Gives the device the CPU's latest data for `size` bytes at `address` (which may be
    /// anywhere inside a mapping). Models `swiotlb_sync_single_for_device()`: copies
    /// original → bounce for ``DMADirection/toDevice`` and ``DMADirection/bidirectional``,
    /// nothing for ``DMADirection/fromDevice``.
    ///
    /// - Throws: ``SWIOTLBError/syncOutOfBounds(_:size:mappingAddress:mappedSize:operation:)``
    ///   for a range that leaves the mapping (Linux WARNs and truncates), and the same
    ///   misuse errors as unmap.
    public func syncForDevice(_ address: UInt64, size: Int, direction: DMADirection) throws(SWIOTLBError) {
        try sync(address, size: size, operation: .syncForDevice, copies: direction.copiesToDevice, toBounce: true)
    }

    /// Gives the CPU the device's data for `size` bytes at `address` (which may be
    /// anywhere inside a mapping). Models `swiotlb_sync_single_for_cpu()`: copies
    /// bounce → original for ``DMADirection/fromDevice`` and ``DMADirection/bidirectional``,
    /// nothing for ``DMADirection/toDevice``.
    ///
    /// - Throws: as ``syncForDevice(_:size:direction:)``.
    public func syncForCPU(_ address: UInt64, size: Int, direction: DMADirection) throws(SWIOTLBError) {
        try sync(address, size: size, operation: .syncForCPU, copies: direction.copiesToCPU, toBounce: false)
    }

    /// Both syncs (`swiotlb_sync_single_for_device()` / `_for_cpu()`): finds the mapping
    /// `address` lies in, then, when the direction `copies`, copies `size` bytes
    /// original → bounce (`toBounce`) or bounce → original.
    private func sync(
        _ address: UInt64, size: Int, operation: SWIOTLBOperation, copies: Bool, toBounce: Bool
    ) throws(SWIOTLBError) {
        let (original, bounce) = try locate(address, size: size, operation: operation)
        guard copies, size > 0 else { return }
        let (source, destination) = toBounce ? (original, bounce) : (bounce, original)
        do {
            try copy(from: source, to: destination, count: size)
        } catch {
            throw .copyFailed(error, operation: operation)
        }
    }

    /// Checks that `size` bytes at `address` lie inside one live mapping, and returns the
    /// matching original address (`swiotlb_bounce()`'s `orig_addr` arithmetic).
    private func locate(
        _ address: UInt64, size: Int, operation: SWIOTLBOperation
    ) throws(SWIOTLBError) -> (original: UInt64, bounce: UInt64) {
        guard size >= 0 else { throw .invalidSize(size, operation: operation) }
        let byte = address &- base
        guard byte < poolBytes else { throw .notBounceAddress(address, operation: operation) }
        let slot = Int(truncatingIfNeeded: byte &>> UInt64(SWIOTLB.slotShift))
        let area = table.area(ofSlot: slot)
        table.lock(area)
        switch table.lookup(slot: slot, byte: byte) {
        case .live(let head):
            let start = table.mappingStart(head)
            let record = table.records[head]
            table.unlock(area)
            let inside = byte - start
            guard UInt64(size) <= UInt64(record.mappingSize) - inside else {
                throw .syncOutOfBounds(
                    address, size: size, mappingAddress: base &+ start, mappedSize: Int(record.mappingSize),
                    operation: operation)
            }
            return (record.original &+ inside, address)
        case .released:
            table.unlock(area)
            throw .alreadyUnmapped(address, operation: operation)
        case .none:
            table.unlock(area)
            throw .notMapped(address, operation: operation)
        }
    }

    /// 6.1's endless scan for `r` in `area` (off the hot path), recorded as a failed map.
    @inline(never)
    private func scanHung(_ r: SlotRequest, area: Int, cpu: Int) -> SWIOTLBError {
        if recorder != nil {
            recordMap(
                original: r.original, size: r.mappingSize, allocAlignMask: r.callerAllocAlignMask,
                device: DMADevice(minAlignMask: r.minAlignMask, segmentBoundaryMask: r.boundaryMask), cpu: cpu,
                address: nil)
        }
        return .scanHung(
            SWIOTLBScanHang(
                original: r.original, size: r.mappingSize, allocationSize: r.allocationSize,
                allocAlignMask: r.callerAllocAlignMask, minAlignMask: r.minAlignMask, stride: r.stride, area: area,
                usedSlots: statistics.usedSlots))
    }

    /// Builds the exhaustion error (locking each area briefly), counts the failure, asks
    /// CPU handles holding cached runs to return them, and logs the kernel's line unless
    /// ``DMAAttributes/noWarn``. A request that could not
    /// fit even in an empty pool (its alignment leaves no room in any segment) is
    /// reported as too large instead.
    func exhaustion(_ r: SlotRequest, startArea: Int, attributes: DMAAttributes) -> SWIOTLBError {
        if allocator != .linux61, let span = table.emptyPoolShortfall(r) {
            return .mappingTooLarge(
                size: r.mappingSize, allocationSize: max(span << SWIOTLB.slotShift, r.allocationSize),
                maximum: SWIOTLB.maxMappingSize(minAlignMask: r.minAlignMask))
        }
        table.lock(startArea)
        table.header(startArea).pointee.failures += 1
        table.unlock(startArea)
        // Runs idle in CPU handles' caches are free but not this map's to take: ask
        // their owners to return them at their next call.
        for a in 0..<areaCount where table.isClaimed(a) && table.cachedRuns(area: a) > 0 {
            table.drainWord(a).pointee.store(1, ordering: .relaxed)
        }
        let stats = statistics
        var bestArea = 0
        var bestRun = -1
        for a in stats.areas where a.largestFreeRun > bestRun {
            bestRun = a.largestFreeRun
            bestArea = a.index
        }
        let details = SWIOTLBExhaustion(
            poolSize: region.size, totalSlots: slotCount, requestSize: r.mappingSize,
            allocationSize: r.allocationSize, slotsNeeded: r.slots, allocAlignMask: r.callerAllocAlignMask,
            minAlignMask: r.minAlignMask,
            effectiveAlignment: Int(min(r.period, UInt64(Int.max >> SWIOTLB.slotShift))) << SWIOTLB.slotShift,
            usedSlots: stats.usedSlots, highWaterSlots: stats.highWaterSlots, largestFreeRun: max(bestRun, 0),
            largestFreeRunArea: bestArea, startArea: startArea, areaCount: areaCount, linux61: allocator == .linux61)
        if !attributes.contains(.noWarn), let warn { warn(details.kernelMessage) }
        return .exhausted(details)
    }
}
