import Locking

/// A bounce-buffer pool that grows when it runs out: Linux's `CONFIG_SWIOTLB_DYNAMIC`
/// (`kernel/dma/swiotlb.c: swiotlb_find_slots, swiotlb_dyn_alloc, swiotlb_alloc_pool
/// (6.12)`; reference/linux-guest-facts.md §2.6), with three differences:
///
/// - a map that finds every pool full grows the pool list itself, synchronously, in its
///   own context: no transient per-mapping pool allocated with `GFP_NOWAIT` (which
///   Linux frees with `set_memory_encrypted()` and can end in "scheduling while atomic");
/// - each added pool is shared with the hypervisor in one call for its whole range, as
///   `alloc_dma_pages()` does for a dynamic pool;
/// - a failed share never hands memory back half-shared: the whole range is unshared
///   first, and memory that cannot be made private again is quarantined, never freed
///   (reference/peers.md (c) 4).
///
/// Idle added pools are unshared and returned by ``releaseIdlePools()`` (Linux frees
/// only transient pools, at unmap). The default pool is never released.
///
/// The default pool is tried first without any extra lock, so a pool that never grows
/// costs what ``SWIOTLBPool`` costs. Added pools are searched in order under one lock.
public final class SWIOTLBDynamicPool: Sendable {
    /// The boot-time pool (`io_tlb_default_mem.defpool`).
    public let defaultPool: SWIOTLBPool
    /// How added pools are sized and capped.
    public let policy: SWIOTLBGrowthPolicy
    let hooks: SWIOTLBGrowthHooks
    let state: Lock<State>

    struct State {
        var extras: [SWIOTLBPool] = []
        var statistics = SWIOTLBGrowthStatistics()
    }

    /// Wraps `defaultPool`; added pools use its memory, allocator and page size.
    public init(defaultPool: SWIOTLBPool, policy: SWIOTLBGrowthPolicy, hooks: SWIOTLBGrowthHooks) {
        self.defaultPool = defaultPool
        self.policy = policy
        self.hooks = hooks
        state = Lock(State())
    }

    /// Growth and shrink counters.
    public var growthStatistics: SWIOTLBGrowthStatistics { state.withLock { $0.statistics } }

    /// The added pools alive now, in search order.
    public var extraPools: [SWIOTLBPool] { state.withLock { $0.extras } }

    /// Maps through the default pool, then the added pools, then a new pool. Arguments
    /// and copy semantics as ``SWIOTLBPool/map(original:size:direction:attributes:allocAlignMask:device:cpu:)``.
    ///
    /// - Throws: the default pool's errors; ``SWIOTLBError/exhausted(_:)`` (about the
    ///   default pool) when growth is capped or failed, logged as Linux's line unless
    ///   ``DMAAttributes/noWarn``.
    public func map(
        original: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = [],
        allocAlignMask: UInt64 = 0, device: DMADevice = DMADevice(), cpu: Int = 0
    ) throws(SWIOTLBError) -> UInt64 {
        if let address = try defaultPool.mapIfRoom(
            original: original, size: size, direction: direction, attributes: attributes,
            allocAlignMask: allocAlignMask, device: device, cpu: cpu)
        {
            return address
        }
        let placed = try state.withLock { (s: inout State) throws(SWIOTLBError) -> UInt64? in
            for pool in s.extras {
                if let address = try pool.mapIfRoom(
                    original: original, size: size, direction: direction, attributes: attributes,
                    allocAlignMask: allocAlignMask, device: device, cpu: cpu)
                {
                    return address
                }
            }
            guard let pool = grow(&s) else { return nil }
            return try pool.mapIfRoom(
                original: original, size: size, direction: direction, attributes: attributes,
                allocAlignMask: allocAlignMask, device: device, cpu: cpu)
        }
        if let placed { return placed }
        // Every pool is full and none could be added: the default pool's report and line.
        return try defaultPool.map(
            original: original, size: size, direction: direction, attributes: attributes,
            allocAlignMask: allocAlignMask, device: device, cpu: cpu)
    }

    /// Adds one pool (lock held): allocate, share in one call, build. On a failed share
    /// the whole range is unshared, then freed, or quarantined if that fails too.
    private func grow(_ s: inout State) -> SWIOTLBPool? {
        guard s.extras.count < policy.maxPools else {
            s.statistics.failedGrowths += 1
            return nil
        }
        let bytes = policy.poolSize
        let pageSize = defaultPool.pageSize
        let base: UInt64
        do {
            base = try hooks.allocate(bytes, pageSize)
        } catch {
            s.statistics.failedGrowths += 1
            return nil
        }
        let region = BounceRegion(base: base, size: bytes)
        s.statistics.shareCalls += 1
        do {
            let pool = try SWIOTLBPool(
                region: region, areas: policy.areas, memory: defaultPool.memory, allocator: defaultPool.allocator,
                pageSize: pageSize, warn: defaultPool.warn, recorder: defaultPool.recorder,
                share: { (r: BounceRegion) throws(SWIOTLBError) in
                    do { try hooks.share(r) } catch { throw .shareFailed(r, reason: String(describing: error)) }
                })
            s.extras.append(pool)
            s.statistics.growths += 1
            s.statistics.bytesShared += bytes
            s.statistics.extraPools = s.extras.count
            return pool
        } catch {
            s.statistics.failedGrowths += 1
            if case .shareFailed = error {
                // Some pages may be shared: make the whole range private before freeing it.
                s.statistics.unshareCalls += 1
                do {
                    try hooks.unshare(region)
                } catch {
                    s.statistics.bytesQuarantined += bytes
                    return nil
                }
            }
            hooks.free(region)
            return nil
        }
    }

    /// Unshares and frees every added pool with no live mapping (one unshare call per
    /// pool); returns the bytes returned. A pool whose unshare fails is dropped from
    /// the search but its memory is quarantined, never freed.
    @discardableResult
    public func releaseIdlePools() -> Int {
        state.withLock { s in
            var returned = 0
            var kept: [SWIOTLBPool] = []
            for pool in s.extras {
                guard pool.statistics.usedSlots == 0 else {
                    kept.append(pool)
                    continue
                }
                let region = BounceRegion(
                    base: pool.region.base, size: (pool.region.size + pool.pageSize - 1) & ~(pool.pageSize - 1))
                s.statistics.unshareCalls += 1
                do {
                    try hooks.unshare(region)
                } catch {
                    s.statistics.bytesQuarantined += region.size
                    continue
                }
                hooks.free(region)
                returned += region.size
            }
            s.extras = kept
            s.statistics.bytesReturned += returned
            s.statistics.extraPools = kept.count
            return returned
        }
    }

    /// The pool holding `address` (`swiotlb_find_pool()`), or `nil`.
    public func pool(containing address: UInt64) -> SWIOTLBPool? {
        if defaultPool.contains(address) { return defaultPool }
        return state.withLock { s in s.extras.first { $0.contains(address) } }
    }

    /// Unmaps through the pool holding `address`; as ``SWIOTLBPool/unmap(_:size:direction:attributes:)``.
    public func unmap(
        _ address: UInt64, size: Int, direction: DMADirection, attributes: DMAAttributes = []
    ) throws(SWIOTLBError) {
        guard let pool = pool(containing: address) else { throw .notBounceAddress(address, operation: .unmap) }
        try pool.unmap(address, size: size, direction: direction, attributes: attributes)
    }

    /// As ``SWIOTLBPool/syncForDevice(_:size:direction:)``, in the pool holding `address`.
    public func syncForDevice(_ address: UInt64, size: Int, direction: DMADirection) throws(SWIOTLBError) {
        guard let pool = pool(containing: address) else { throw .notBounceAddress(address, operation: .syncForDevice) }
        try pool.syncForDevice(address, size: size, direction: direction)
    }

    /// As ``SWIOTLBPool/syncForCPU(_:size:direction:)``, in the pool holding `address`.
    public func syncForCPU(_ address: UInt64, size: Int, direction: DMADirection) throws(SWIOTLBError) {
        guard let pool = pool(containing: address) else { throw .notBounceAddress(address, operation: .syncForCPU) }
        try pool.syncForCPU(address, size: size, direction: direction)
    }
}
