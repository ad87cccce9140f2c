/// A SWIOTLB bounce-buffer pool over a caller-provided region of a flat physical
/// address space: the pool a secure guest forces every streaming DMA mapping through,
/// because the hypervisor can only reach shared pages.
///
/// Models the default `io_tlb_pool` of `kernel/dma/swiotlb.c`
/// (reference/linux-guest-facts.md §2): 2 KiB slots in 128-slot segments that no
/// mapping crosses, split into areas with one lock each; `map` (`swiotlb_tbl_map_single()`)
/// with `alloc_align_mask`, `min_align_mask`, offset preservation and pad slots;
/// `unmap`, `syncForDevice` and `syncForCPU` with Linux's copy semantics per direction;
/// release with merging; statistics; typed, self-explaining errors.
///
/// ```swift
/// let memory = try HostBounceMemory(size: 80 << 20)
/// let pool = try SWIOTLBPool(region: BounceRegion(base: 0, size: 64 << 20), areas: 2, memory: memory)
/// let bounce = try pool.map(original: 70 << 20, size: 4096, direction: .toDevice, cpu: 1)
/// // ... the device reads `bounce` ...
/// try pool.unmap(bounce, size: 4096, direction: .toDevice)
/// ```
///
/// Mappings are identified by their bounce address, as in Linux. All calls are safe
/// from any thread; a map or unmap takes only its area's lock (no global lock), and
/// makes one ``BounceMemory`` call per copy.
public final class SWIOTLBPool: Sendable {
    // Fields a map or unmap reads come first, so that they share a cache line.
    let table: SlotTable
    let base: UInt64
    let poolBytes: UInt64
    let areaMask: Int
    /// `memory`'s bytes and size when it is a ``HostBounceMemory``: copies then go
    /// straight to `memmove` after the same bounds checks, with no protocol call or
    /// reference counting (the pool keeps `memory` alive). Safe to share: the pointer
    /// never changes, and what it points to is `HostBounceMemory`'s (see its invariant).
    nonisolated(unsafe) let hostBytes: UnsafeMutableRawPointer?
    let hostSize: UInt64
    /// Receives every map and unmap (see ``SWIOTLBTraceRecorder``), or `nil`.
    let recorder: (any SWIOTLBTraceRecorder)?
    /// The kernel page size: the share hook gets whole pages, and mappings of at least
    /// a page with no other alignment request are page-aligned.
    public let pageSize: Int
    /// The region the pool covers (`pool->start ..< pool->end`).
    public let region: BounceRegion
    /// Slots in the pool (`pool->nslabs`).
    public let slotCount: Int
    /// Number of areas (`pool->nareas`), a power of two.
    public let areaCount: Int
    /// Slots per area (`pool->area_nslabs`).
    public let areaSlots: Int
    /// Which slot search the pool uses.
    public let allocator: SWIOTLBAllocatorKind
    /// What the kernel would have logged while creating this pool.
    public let messages: [String]
    /// The memory all copies go through.
    public let memory: any BounceMemory
    let warn: (@Sendable (String) -> Void)?

    /// Creates a pool over `region` and shares it through `share`.
    ///
    /// - Parameters:
    ///   - region: page-aligned, a whole number of 256 KiB segments.
    ///   - areas: the requested area count (Linux: possible CPUs, or `swiotlb=`'s second
    ///     number). Rounded up to a power of two (0 becomes 1), then halved until every
    ///     area holds the same whole number of segments (Linux's `limit_nareas()` allows a
    ///     non-power-of-two count here; this pool keeps the CPU-to-area mask exact).
    ///   - memory: the accessor every bounce copy goes through.
    ///   - allocator: ``SWIOTLBAllocatorKind/fast`` (default) or the step-by-step
    ///     ``SWIOTLBAllocatorKind/reference``.
    ///   - pageSize: the kernel page size (64 KiB on pseries).
    ///   - warn: receives "swiotlb buffer is full …" lines (unless a map passes
    ///     ``DMAAttributes/noWarn``), as the kernel log would; none for
    ///     ``SWIOTLBError/mappingTooLarge(size:allocationSize:maximum:)``, which the
    ///     caller may log with ``SWIOTLBExhaustion/kernelMessage(size:totalSlots:usedSlots:)``.
    ///   - recorder: receives every map and unmap, for `--swiotlb-trace` and replay.
    ///   - share: called once, before the pool exists, with the page-aligned region to
    ///     make visible to the hypervisor (the guest passes its `set_memory_decrypted()`,
    ///     as `swiotlb_update_mem_attributes()` does in one call). If it throws, the
    ///     pool is not created and ``SWIOTLBError/shareFailed(_:reason:)`` names the region.
    /// - Throws: ``SWIOTLBError/invalidRegion(_:reason:)`` or ``SWIOTLBError/shareFailed(_:reason:)``.
    public init<E: Error>(
        region: BounceRegion, areas: Int = 1, memory: any BounceMemory, allocator: SWIOTLBAllocatorKind = .fast,
        pageSize: Int = SWIOTLB.defaultPageSize, warn: (@Sendable (String) -> Void)? = nil,
        recorder: (any SWIOTLBTraceRecorder)? = nil, share: (BounceRegion) throws(E) -> Void
    ) throws(SWIOTLBError) {
        guard pageSize >= SWIOTLB.slotSize, pageSize <= 1 << 30, pageSize.nonzeroBitCount == 1 else {
            throw .invalidRegion(region, reason: "page size \(pageSize) is not a power of two in 2 KiB...1 GiB")
        }
        guard region.size >= SWIOTLB.segmentSize, region.size % SWIOTLB.segmentSize == 0 else {
            throw .invalidRegion(
                region, reason: "size is not a positive multiple of the \(SWIOTLB.segmentSize)-byte segment")
        }
        guard region.base % UInt64(pageSize) == 0 else {
            throw .invalidRegion(region, reason: "base is not aligned to the \(pageSize)-byte page")
        }
        let pagedSize = (region.size + pageSize - 1) & ~(pageSize - 1)
        guard region.base <= UInt64.max - UInt64(pagedSize) else {
            throw .invalidRegion(region, reason: "region wraps past the end of the address space")
        }
        let slots = region.size >> SWIOTLB.slotShift
        var messages: [String] = []
        let wanted = SWIOTLBConfiguration.areaCount(max(areas, 0))
        var nareas = wanted
        while nareas > 1 && slots % (SWIOTLB.segmentSlots * nareas) != 0 { nareas >>= 1 }
        if nareas != wanted { messages.append("area num limited to \(nareas) for \(slots) slots") }

        let shared = BounceRegion(base: region.base, size: pagedSize)
        do {
            try share(shared)
        } catch {
            throw .shareFailed(shared, reason: String(describing: error))
        }
        messages.append("software IO TLB: mapped \(region)")

        self.region = region
        self.slotCount = slots
        self.areaCount = nareas
        self.areaSlots = slots / nareas
        self.allocator = allocator
        self.pageSize = pageSize
        self.messages = messages
        self.memory = memory
        let host = memory as? HostBounceMemory
        self.hostBytes = host?.bytes
        self.hostSize = UInt64(host?.size ?? 0)
        self.warn = warn
        self.recorder = recorder
        self.base = region.base
        self.poolBytes = UInt64(region.size)
        self.areaMask = nareas - 1
        self.table = SlotTable(
            kind: allocator, baseSlot: region.base >> UInt64(SWIOTLB.slotShift), totalSlots: slots, areaCount: nareas)
    }

    /// Creates a pool that needs no sharing (host memory, tests, benchmarks).
    public convenience init(
        region: BounceRegion, areas: Int = 1, memory: any BounceMemory, allocator: SWIOTLBAllocatorKind = .fast,
        pageSize: Int = SWIOTLB.defaultPageSize, warn: (@Sendable (String) -> Void)? = nil,
        recorder: (any SWIOTLBTraceRecorder)? = nil
    ) throws(SWIOTLBError) {
        try self.init(
            region: region, areas: areas, memory: memory, allocator: allocator, pageSize: pageSize, warn: warn,
            recorder: recorder, share: { (_: BounceRegion) throws(Never) in })
    }

    /// Creates the default pool from a ``SWIOTLBConfiguration`` (its slots and areas) at
    /// `base`, and shares it through `share`.
    public convenience init<E: Error>(
        configuration: SWIOTLBConfiguration, base: UInt64, memory: any BounceMemory,
        allocator: SWIOTLBAllocatorKind = .fast, pageSize: Int = SWIOTLB.defaultPageSize,
        warn: (@Sendable (String) -> Void)? = nil, recorder: (any SWIOTLBTraceRecorder)? = nil,
        share: (BounceRegion) throws(E) -> Void
    ) throws(SWIOTLBError) {
        try self.init(
            region: BounceRegion(base: base, size: configuration.size), areas: configuration.areas, memory: memory,
            allocator: allocator, pageSize: pageSize, warn: warn, recorder: recorder, share: share)
    }

    /// `is_swiotlb_buffer()`: whether `address` is inside the pool.
    public func contains(_ address: UInt64) -> Bool { address &- base < poolBytes }

    /// The area a CPU's mappings start in: `cpu & (nareas - 1)`.
    public func area(forCPU cpu: Int) -> Int { cpu & areaMask }
}
