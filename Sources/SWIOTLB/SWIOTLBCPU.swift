/// One CPU's exclusive use of its area's run cache in a ``SWIOTLBPool``: the per-CPU
/// fast path of issue 18. Get one with ``SWIOTLBPool/claimCPU(_:)``.
///
/// Linux reaches its per-CPU data with preemption disabled, so no other code runs on
/// that CPU meanwhile. Here the handle plays that part: it is not `Sendable`, so one
/// thread at a time holds it, and while it lives only it pushes and pops its area's
/// cache of freed slot runs. A map served by the cache is therefore a pop, the record
/// of the mapping (one 16-byte record) and the copy: no lock, no atomic
/// read-modify-write, no allocation. An unmap of a mapping in this CPU's area pushes
/// the run back the same way. Everything else goes through the area locks as
/// ``SWIOTLBPool/map(original:size:direction:attributes:allocAlignMask:device:cpu:)``
/// does: a cache miss (the run comes from the area's bitmap), a map that overflows to
/// other areas, an unmap of a mapping in another area ("remote": freed to that area's
/// bitmap), and anyone else's map or unmap in this area (which leave the claimed cache
/// alone).
///
/// Guarantees are the pool's: alignment, offset preservation, segments, misuse errors
/// and the exhaustion report. Runs idle in the cache stay counted as in use (see
/// ``SWIOTLBStatistics/usedSlots``) and are reported free (the largest free run
/// counts them). A map anywhere that fails while this cache holds runs asks the handle
/// to return them to the bitmap, which it does at its next call; releasing the handle
/// returns them too.
///
/// ```swift
/// guard let cpu = pool.claimCPU(1) else { return }  // someone else holds CPU 1
/// let bounce = try cpu.map(original: 70 << 20, size: 4096, direction: .toDevice)
/// try cpu.unmap(bounce, size: 4096, direction: .toDevice)
/// ```
public final class SWIOTLBCPU {
    /// The pool this handle maps through.
    public let pool: SWIOTLBPool
    /// The CPU number given to ``SWIOTLBPool/claimCPU(_:)`` (the search's start hint).
    public let cpu: Int
    /// The area whose cache the handle owns (`cpu & (areaCount - 1)`).
    public let area: Int
    // What the fast paths read, one load from the handle each.
    /// The area's run cache.
    let cache: RunCacheWords
    let records: UnsafeMutablePointer<SlotRecord>
    let base: UInt64
    let pageSize: Int
    /// The area's first pool slot and its slot count.
    let firstSlot: Int
    let areaSlots: Int
    /// The pool's host bytes and their size (see `SWIOTLBPool.hostBytes`).
    let hostBytes: UnsafeMutableRawPointer?
    let hostSize: UInt64
    /// Whether the pool has a trace recorder.
    let recording: Bool
    let table: SlotTable
    /// Whether the handle owns a cache (fast allocator only; the reference allocator
    /// has none and the handle simply forwards to the pool).
    let ownsCache: Bool

    init(pool: SWIOTLBPool, cpu: Int, area: Int, ownsCache: Bool) {
        self.pool = pool
        self.cpu = cpu
        self.area = area
        table = pool.table
        cache = table.runCache(area)
        records = table.records
        base = pool.base
        pageSize = pool.pageSize
        areaSlots = pool.areaSlots
        firstSlot = area * pool.areaSlots
        hostBytes = pool.hostBytes
        hostSize = pool.hostSize
        recording = pool.recorder != nil
        self.ownsCache = ownsCache
    }

    deinit {
        if ownsCache { pool.releaseCPU(area: area) }
    }

    /// Maps `size` bytes at `original` with this handle's CPU, popping a cached run when
    /// one fits; otherwise as
    /// ``SWIOTLBPool/map(original:size:direction:attributes:allocAlignMask:device:cpu:)``.
    ///
    /// - Throws: as ``SWIOTLBPool/map(original:size:direction:attributes:allocAlignMask:device:cpu:)``.
    public func map(
        original: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = [],
        allocAlignMask: UInt64 = 0, device: DMADevice = DMADevice()
    ) throws(SWIOTLBError) -> UInt64 {
        // The common request (no masks, less than a page: slot alignment only) takes the
        // run on top of the cache if it has the right length: one load, one store. The
        // rest is out of line, so that this path stays short.
        if ownsCache, allocAlignMask == 0, device == DMADevice(), size > 0, size < pageSize,
            size <= SWIOTLB.segmentSize, original <= UInt64.max &- UInt64(size), !cache.drainRequested
        {
            let slots = (size &+ (SWIOTLB.slotSize &- 1)) &>> SWIOTLB.slotShift
            if let head = cache.popTop(slots: slots) {
                records[head] = SlotRecord(
                    original: original, mappingSize: UInt32(truncatingIfNeeded: size),
                    offsetAndState: SlotRecord.liveBit, slots: UInt8(truncatingIfNeeded: slots), padSlots: 0)
                return try finishMap(
                    head: head, original: original, size: size, slots: slots, allocAlignMask: 0, device: device)
            }
        }
        return try mapSlowly(
            original: original, size: size, direction: direction, attributes: attributes,
            allocAlignMask: allocAlignMask, device: device)
    }

    /// Every other map: any request, a drain to answer, a cache miss, other areas.
    @inline(never)
    func mapSlowly(
        original: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes, allocAlignMask: UInt64,
        device: DMADevice
    ) throws(SWIOTLBError) -> UInt64 {
        guard ownsCache else {
            return try pool.map(
                original: original, size: size, direction: direction, attributes: attributes,
                allocAlignMask: allocAlignMask, device: device, cpu: cpu)
        }
        if table.drainWord(area).pointee.load(ordering: .relaxed) != 0 { pool.drainCPU(area: area) }
        let request = try SlotRequest(
            original: original, size: size, allocAlignMask: allocAlignMask, device: device, pageSize: pool.pageSize)
        let head: Int
        if let start = table.cachedAllocate(area: area, request) {
            head = table.recordMapping(area: area, start: start, request)
        } else if let refilled = pool.refillCPU(area: area, request) {
            head = refilled
        } else {
            // Other areas, under their locks (this area's bitmap is tried again, harmlessly).
            return try pool.placeRecorded(
                request, allocAlignMask: allocAlignMask, device: device, cpu: cpu, attributes: attributes, copyIn: true)
        }
        return try finishMap(
            head: head, original: original, size: size, slots: request.slots, allocAlignMask: allocAlignMask,
            device: device)
    }

    /// Copies in for a mapping recorded at `head` of this area and hands it to the
    /// recorder; on a copy failure the run goes back to the cache.
    @inline(__always)
    func finishMap(
        head: Int, original: UInt64, size: Int, slots: Int, allocAlignMask: UInt64, device: DMADevice
    ) throws(SWIOTLBError) -> UInt64 {
        let record = records[head]
        let address = base &+ (UInt64(head) &<< UInt64(SWIOTLB.slotShift)) &+ UInt64(record.offset)
        if !SWIOTLBPool.copyInHost(hostBytes, hostSize, from: original, to: address, count: size) {
            do {
                try copy(from: original, to: address, count: size)
            } catch {
                throw forget(head: head, slots: slots, error)
            }
        }
        if recording {
            pool.recordMap(
                original: original, size: size, allocAlignMask: allocAlignMask, device: device, cpu: cpu,
                address: address)
        }
        return address
    }

    /// Unmaps a mapping, as ``SWIOTLBPool/unmap(_:size:direction:attributes:)``. A mapping
    /// in this CPU's area goes back to the cache without a lock; one in another area is
    /// freed there under its lock.
    ///
    /// - Throws: as ``SWIOTLBPool/unmap(_:size:direction:attributes:)``.
    public func unmap(
        _ address: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = []
    ) throws(SWIOTLBError) {
        let copyBack = direction.copiesToCPU && !attributes.contains(.skipCPUSync)
        let byte = address &- base
        let head = Int(truncatingIfNeeded: byte &>> UInt64(SWIOTLB.slotShift))
        // In this area (which also means inside the pool)?
        guard ownsCache, UInt(bitPattern: head &- firstSlot) < UInt(bitPattern: areaSlots) else {
            return try unmapElsewhere(address, size: size, copyBack: copyBack)
        }
        if cache.drainRequested { pool.drainCPU(area: area) }
        if recording, let recorder = pool.recorder { recorder.record(.unmap(address: address, size: size)) }
        guard records[head].isLiveHead(offset: Int(byte & UInt64(SWIOTLB.slotSize - 1))) else {
            throw misuse(address, slot: head, byte: byte)
        }
        let record = records[head]
        guard Int(record.mappingSize) == size else {
            throw .sizeMismatch(address, size: size, mappedSize: Int(record.mappingSize), operation: .unmap)
        }
        records[head].retire()
        var failure: BounceMemoryError?
        if copyBack {
            do {
                try copy(from: address, to: record.original, count: size)
            } catch {
                failure = error
            }
        }
        giveBack(start: head &- Int(record.padSlots), count: Int(record.slots))
        if let failure { throw .copyFailed(failure, operation: .unmap) }
    }

    /// One bounce copy: in host memory from the handle's own copy of the pool's host
    /// pointer (no load through the pool), otherwise the pool's memory names the error.
    @inline(__always)
    func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
        if !SWIOTLBPool.copyInHost(hostBytes, hostSize, from: source, to: destination, count: count) {
            try pool.memory.copy(from: source, to: destination, count: count)
        }
    }

    /// A remote unmap (another area's mapping, or no handle cache): the pool's locked path.
    @inline(never)
    func unmapElsewhere(_ address: UInt64, size: Int, copyBack: Bool) throws(SWIOTLBError) {
        try pool.unmapSlots(address, size: size, copyBack: copyBack)
    }

    /// Names what is wrong with an unmap of `address` in this area (under the lock, as
    /// the pool does).
    @inline(never)
    func misuse(_ address: UInt64, slot: Int, byte: UInt64) -> SWIOTLBError {
        table.lock(area)
        defer { table.unlock(area) }
        return pool.unmapMisuse(address, slot: slot, byte: byte)
    }

    /// Undoes a map whose copy-in failed: the run goes back to the cache.
    @inline(never)
    func forget(head: Int, slots: Int, _ error: BounceMemoryError) -> SWIOTLBError {
        let pad = Int(table.records[head].padSlots)
        table.records[head].offsetAndState = 0
        giveBack(start: head &- pad, count: slots)
        return .copyFailed(error, operation: .map)
    }

    /// Returns the cached runs to the area's bitmap, where they stop counting as used
    /// (``SWIOTLBStatistics/usedSlots`` then counts this CPU's mappings only). The
    /// handle keeps its claim; later unmaps fill the cache again.
    public func flush() {
        if ownsCache { pool.drainCPU(area: area) }
    }

    /// Pushes a run of this area onto the cache, or frees it to the bitmap under the
    /// lock when the cache is full.
    @inline(__always)
    func giveBack(start: Int, count: Int) {
        if !cache.push(start: start, count: count) {
            table.lock(area)
            table.free(area: area, start: start, count: count)
            table.unlock(area)
        }
    }
}
