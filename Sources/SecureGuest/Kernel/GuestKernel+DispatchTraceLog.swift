import PEFMachine
import PowerABI

/// Dispatch Trace Logs (reference/linux-guest-facts.md §1.5).
extension GuestKernel {
    /// `DISPATCH_LOG_BYTES`: each CPU's DTL buffer.
    public static let dispatchLogBytes: UInt64 = 4096
    /// `N_DISPATCH_LOG`: entries per buffer (85).
    public static let dispatchLogEntries = Int(dispatchLogBytes) / DispatchTraceLogEntry.byteCount

    /// Models `alloc_dispatch_log_kmem_cache()` (`arch/powerpc/platforms/pseries/setup.c
    /// (6.12)`) and `alloc_dtl_buffers()` (`lpar.c (6.12)`) for every possible CPU: a
    /// `dtl` kmem_cache of 4096-byte, 4096-aligned objects whose slab pages (one 64 KiB
    /// page holds 16 objects) come from the page allocator. On a secure guest the cache
    /// has a constructor (`get_dtl_cache_ctor()` → `dtl_cache_ctor()`), run for every
    /// object of a new slab. Each buffer gets its length at offset 4, as Linux writes
    /// it before registering.
    func allocateDispatchLogs(cpuCount: Int, secure: Bool, memblock: inout Memblock) throws(GuestKernelError) -> [UInt64?] {
        let perPage = Int(PageSize.bytes / Self.dispatchLogBytes)
        let ctor = secure && !options.bugs.contains(.skipDTLShare)
        if secure && options.bugs.contains(.skipDTLShare) { printk("SVMKit bug: the dtl cache has no constructor") }
        var out: [UInt64?] = []
        out.reserveCapacity(cpuCount)
        var slab: UInt64 = 0
        let boot = processor(0)
        for cpu in 0..<cpuCount {
            if cpu % perPage == 0 {
                do {
                    slab = try memblock.allocate(
                        size: PageSize.bytes, alignment: PageSize.bytes, purpose: SharedPageOwner.dtl.rawValue
                    ).rawValue
                } catch {
                    printk("Failed to allocate dispatch trace log for cpu \(cpu)")
                    out += [UInt64?](repeating: nil, count: cpuCount - cpu)
                    return out
                }
                if ctor {
                    for i in 0..<perPage { dtlCacheConstructor(object: slab + UInt64(i) * Self.dispatchLogBytes) }
                }
            }
            let object = slab + UInt64(cpu % perPage) * Self.dispatchLogBytes
            let length = UInt32(Self.dispatchLogBytes)
            let header: [UInt8] = [
                0, 0, 0, 0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                UInt8(length & 0xFF),
            ]
            do {
                try boot.write(at: GuestPhysicalAddress(object), bytes: header, purpose: "allocate_dtl_buffer")
            } catch {
                throw .memory(error, purpose: "DTL buffer of cpu \(cpu) at 0x\(String(object, radix: 16))")
            }
            out.append(object)
        }
        return out
    }

    /// `NR_DTL_PAGE`: `DISPATCH_LOG_BYTES × CONFIG_NR_CPUS / PAGE_SIZE` entries in
    /// `dtl_page_store` (`svm.c (6.12)`).
    var dtlPageStoreCapacity: Int { Int(Self.dispatchLogBytes) * options.configuredNRCPUs / Int(PageSize.bytes) }

    /// Models `dtl_cache_ctor()` (`arch/powerpc/platforms/pseries/svm.c: dtl_cache_ctor
    /// (6.12)`): if the object's page is not in `dtl_page_store`, store it there FIRST,
    /// `WARN_ON(dtl_nr_pages >= NR_DTL_PAGE)`, then `uv_share_page(pfn, 1)`, whose result
    /// is ignored. A page whose share failed is therefore never tried again by the
    /// other objects on it. Past `NR_DTL_PAGE` pages Linux writes beyond its array;
    /// SVMKit keeps the page and says so.
    func dtlCacheConstructor(object: UInt64) {
        let frame = GuestPhysicalAddress(object).frame
        let capacity = dtlPageStoreCapacity
        let stored: Int? = state.withLock { s in
            guard !s.dtlSharedPages.contains(frame) else { return nil }
            s.dtlSharedPages.insert(frame)
            s.dtlPageStoreCount += 1
            return s.dtlPageStoreCount
        }
        guard let count = stored else { return }
        if count >= capacity {
            printk("WARNING: CPU: 0 PID: 1 at arch/powerpc/platforms/pseries/svm.c:92 dtl_cache_ctor")
            if count > capacity {
                printk("SVMKit: dtl_page_store holds NR_DTL_PAGE = \(capacity) pages; page \(count) is written past its end")
            }
        }
        uvSharePage(first: frame, count: 1, owner: .dtl, callSite: "dtl_cache_ctor")
    }

    /// Pages in `dtl_page_store`: the ones the `dtl` cache constructor passed to
    /// `uv_share_page()` (whether or not the share worked).
    public var dispatchLogSharedPages: Set<GuestFrameNumber> { state.withLock { $0.dtlSharedPages } }

    /// Models `scan_dispatch_log()` (`arch/powerpc/kernel/time.c`) on `cpu`: reads
    /// `dtl_idx` from the CPU's VPA and every entry the hypervisor wrote since the
    /// last scan from its DTL (as that CPU, through guest memory), skipping entries the
    /// hypervisor already overwrote, and adds their stolen time to the CPU's total.
    /// - Throws: ``GuestKernelError/memory(_:purpose:)`` if the VPA or DTL cannot be read.
    public func scanDispatchLog(cpu: Int) throws(GuestKernelError) -> DispatchLogScan {
        let (vpa, dtl, start) = state.withLock { s in
            (
                s.lppacas.indices.contains(cpu) ? s.lppacas[cpu] : nil,
                s.dtls.indices.contains(cpu) ? s.dtls[cpu] : nil,
                s.dtlReadIndex.indices.contains(cpu) ? s.dtlReadIndex[cpu] : 0
            )
        }
        guard let vpa, let dtl else { return DispatchLogScan(entries: [], stolenTicks: 0, skipped: 0) }
        let vcpu = processor(cpu)
        let purpose = "scan_dispatch_log of cpu \(cpu)"
        let n = UInt64(Self.dispatchLogEntries)
        do {
            let written = try vcpu.readBigEndian(
                at: GuestPhysicalAddress(vpa + UInt64(LPPACALayout.dtlIndex)), as: UInt64.self,
                purpose: purpose)
            var i = start
            var skipped: UInt64 = 0
            if written > i + n {
                skipped = written - n - i
                i = written - n
            }
            var entries: [DispatchTraceLogEntry] = []
            var stolen: UInt64 = 0
            while i < written {
                let bytes = try vcpu.read(
                    at: GuestPhysicalAddress(dtl + (i % n) * UInt64(DispatchTraceLogEntry.byteCount)),
                    count: DispatchTraceLogEntry.byteCount, purpose: purpose)
                if let e = DispatchTraceLogEntry(decoding: bytes) {
                    entries.append(e)
                    stolen += e.stolenTicks
                }
                i += 1
            }
            let end = i
            let total = stolen
            state.withLock { s in
                if s.dtlReadIndex.indices.contains(cpu) { s.dtlReadIndex[cpu] = end }
                if s.stolenTicks.indices.contains(cpu) { s.stolenTicks[cpu] += total }
            }
            return DispatchLogScan(entries: entries, stolenTicks: stolen, skipped: Int(skipped))
        } catch {
            throw .memory(error, purpose: purpose)
        }
    }

    /// Stolen time of `cpu` accumulated by ``scanDispatchLog(cpu:)``, in timebase ticks
    /// (512 MHz).
    public func stolenTicks(cpu: Int) -> UInt64 {
        state.withLock { $0.stolenTicks.indices.contains(cpu) ? $0.stolenTicks[cpu] : 0 }
    }
}

/// What one ``GuestKernel/scanDispatchLog(cpu:)`` found.
public struct DispatchLogScan: Hashable, Sendable {
    /// The new entries, oldest first.
    public let entries: [DispatchTraceLogEntry]
    /// Their stolen time, in timebase ticks.
    public let stolenTicks: UInt64
    /// Entries the hypervisor overwrote before the guest read them.
    public let skipped: Int
}
