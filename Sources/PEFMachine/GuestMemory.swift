import PowerABI
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// Guest RAM: one sparse anonymous mapping cut into 64 KiB pages, with a compact
/// per-page state table that decides who may touch each page.
///
/// - Creating it costs almost nothing: the mapping is reserved with `MAP_NORESERVE`
///   and the table is one byte per page (1 MiB for a 64 GiB guest).
/// - Every access names its actor (``MemoryActor``). The rules, per page state:
///   - the **hypervisor** may touch normal, shared (explicit or implicit, valid or
///     invalidated) pages and the hypervisor-side pages of a share in progress; it
///     sees its own zeroed copy of a pseudo-shared page; touching a secure page is an
///     ``IsolationViolation``, always recorded. With ``HypervisorTouch/pageOut`` (the
///     default, as KVM does: `book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram`, 6.12)
///     the hypervisor's handler (``setHypervisorFaultHandler(_:)``) pages it out with
///     `UV_PAGE_OUT` into the frame's own backing and the access goes on, seeing
///     ciphertext; with ``HypervisorTouch/stop`` the access fails;
///   - the **Ultravisor** may touch everything except a paged-out page (it must page
///     it in first);
///   - a **secure vCPU** (MSR(S)=1) may touch secure, explicitly shared and
///     pseudo-shared pages; a normal, paged-out or invalidated page raises a page
///     fault that the Ultravisor resolves (``setFaultHandler(_:)``); touching an
///     implicitly shared page kills the SVM (``SVMKill``), as on hardware;
///   - a **normal vCPU** (MSR(S)=0) may touch everything the hypervisor may, but
///     not a pseudo copy: it sees the mapping.
/// - Bytes are only touched while the table's mutex is held, so an access is checked
///   and performed atomically and a state change never races a copy. The
///   `withUnsafe…` bodies run under that mutex: they must not call back into this
///   object or make calls (that would deadlock).
/// - State changes of pages never touched copy nothing; zeroing whole pages uses
///   `madvise(MADV_DONTNEED)`.
public final class GuestMemory: Sendable {
    /// Bytes per page: 64 KiB (`SVM_PAGESHIFT` = 16).
    public static let pageSize = Int(PageSize.bytes)
    /// The largest guest SVMKit maps: 16 TiB, so a guest's host real addresses
    /// (``HostMemory/guestRAMBase`` + GPA) stay below the hypervisor's page pool.
    public static let maximumBytes: UInt64 = 1 << 44
    /// How many violations are kept as records; later ones are only counted.
    public static let violationRecordLimit = 10_000

    /// Size of guest RAM in bytes.
    public let byteCount: UInt64
    /// Number of 64 KiB pages.
    public let pageCount: Int

    let ram: GuestRAM
    let table: Lock<PageTable>
    let faultHandler = Lock<FaultHandler?>(nil)
    let hypervisorFaultHandler = Lock<FaultHandler?>(nil)
    /// What a hypervisor access to a secure page does.
    public let hypervisorTouch: HypervisorTouch

    /// The installed page-fault handler. The closure is kept inside a struct: stored
    /// directly as a `Synchronization.Mutex`'s value, every
    /// `withLock { $0 }` wrote it back wrapped in one more re-abstraction thunk, so each
    /// fault made every later fault slower (found by `svmkit soak`: quadratic in the
    /// number of page faults).
    struct FaultHandler: Sendable {
        let resolve: @Sendable (PageFault) -> Bool
    }

    /// The installed handler, read without re-wrapping it.
    var currentFaultHandler: (@Sendable (PageFault) -> Bool)? { faultHandler.withLock { $0 }?.resolve }

    /// The hypervisor's handler for its own faults on secure pages, when pages are paged
    /// out on touch.
    var currentHypervisorFaultHandler: (@Sendable (PageFault) -> Bool)? {
        hypervisorTouch == .pageOut ? hypervisorFaultHandler.withLock { $0 }?.resolve : nil
    }

    /// Maps `byteCount` bytes of guest RAM, all pages ``PageState/normal`` and zero;
    /// `hypervisorTouch` says what a hypervisor access to a secure page does.
    /// - Throws: ``MachineConfigurationError/invalidMemorySize(bytes:reason:)`` for 0, a
    ///   size that is not a multiple of 64 KiB, or more than ``maximumBytes``;
    ///   ``MachineConfigurationError/mappingFailed(bytes:errno:)`` if the host refuses.
    public init(byteCount: UInt64, hypervisorTouch: HypervisorTouch = .pageOut) throws(MachineConfigurationError) {
        guard byteCount > 0 else { throw .invalidMemorySize(bytes: byteCount, reason: "zero") }
        guard byteCount & PageSize.offsetMask == 0 else {
            throw .invalidMemorySize(bytes: byteCount, reason: "not a multiple of 64 KiB")
        }
        guard byteCount <= Self.maximumBytes else {
            throw .invalidMemorySize(bytes: byteCount, reason: "larger than 16 TiB")
        }
        guard let ram = GuestRAM(byteCount: Int(byteCount)) else {
            #if canImport(Glibc)
                throw .mappingFailed(bytes: byteCount, errno: errno)
            #else
                throw .mappingFailed(bytes: byteCount, errno: 0)
            #endif
        }
        self.ram = ram
        self.hypervisorTouch = hypervisorTouch
        self.byteCount = byteCount
        self.pageCount = Int(byteCount >> PageSize.shift)
        self.table = Lock(PageTable(pageCount: pageCount))
    }

    // MARK: Queries

    /// The state of one page, or `nil` outside memory.
    public func state(of frame: GuestFrameNumber) -> PageState? {
        guard frame.rawValue < UInt64(pageCount) else { return nil }
        return table.withLock { $0.states[Int(frame.rawValue)] }
    }

    /// The states of a run of pages; pages outside memory are left out.
    public func states(of frames: Range<UInt64>) -> [PageState] {
        let upper = min(frames.upperBound, UInt64(pageCount))
        guard frames.lowerBound < upper else { return [] }
        return table.withLock { Array($0.states[Int(frames.lowerBound)..<Int(upper)]) }
    }

    /// How many pages are in `state` now (kept as running counts: O(1)).
    public func pageCount(in state: PageState) -> Int {
        table.withLock { $0.stateCounts[Int(state.rawValue)] }
    }

    /// How many pages are in each state now (only states with pages).
    public var pageCountsByState: [PageState: Int] {
        table.withLock { t in
            var out: [PageState: Int] = [:]
            for s in PageState.allCases where t.stateCounts[Int(s.rawValue)] > 0 {
                out[s] = t.stateCounts[Int(s.rawValue)]
            }
            return out
        }
    }

    /// The frames in `frames` whose state satisfies `predicate`, in order.
    public func frames(in range: Range<UInt64>? = nil, where predicate: (PageState) -> Bool) -> [GuestFrameNumber] {
        let range = range ?? 0..<UInt64(pageCount)
        let upper = min(range.upperBound, UInt64(pageCount))
        guard range.lowerBound < upper else { return [] }
        return table.withLock { t in
            var out: [GuestFrameNumber] = []
            for f in Int(range.lowerBound)..<Int(upper) where predicate(t.states[f]) {
                out.append(GuestFrameNumber(rawValue: UInt64(f)))
            }
            return out
        }
    }

    /// Whether `[address, address + count)` lies inside guest memory.
    public func contains(_ address: GuestPhysicalAddress, count: UInt64) -> Bool {
        let (end, overflow) = address.rawValue.addingReportingOverflow(count)
        return !overflow && end <= byteCount
    }

    // MARK: Isolation records

    /// The recorded isolation violations (the first ``violationRecordLimit``).
    public var violations: [IsolationViolation] { table.withLock { $0.violations } }

    /// How many isolation violations happened, recorded or not.
    public var violationCount: Int { table.withLock { $0.violationCount } }

    /// The kill of the SVM, if one happened.
    public var kill: SVMKill? { table.withLock { $0.kill } }

    /// Records that the Ultravisor killed the SVM (`svm_abort`) for a reason other than
    /// a page access; the first kill is kept.
    public func recordKill(_ kill: SVMKill) {
        table.withLock { if $0.kill == nil { $0.kill = kill } }
    }

    /// Installs the handler a secure vCPU's page fault goes to (the Ultravisor's:
    /// it pages the frame in with `H_SVM_PAGE_IN`). It runs without the table's mutex.
    public func setFaultHandler(_ handler: (@Sendable (PageFault) -> Bool)?) {
        faultHandler.withLock { $0 = handler.map(FaultHandler.init(resolve:)) }
    }

    /// Installs the handler a hypervisor access to a secure or paged-out page goes to
    /// when ``hypervisorTouch`` is ``HypervisorTouch/pageOut`` (the hypervisor's: KVM's
    /// `kvmppc_uvmem_migrate_to_ram()`). It runs without the table's mutex and returns
    /// whether the hypervisor now holds the page. Without one, the access fails.
    public func setHypervisorFaultHandler(_ handler: (@Sendable (PageFault) -> Bool)?) {
        hypervisorFaultHandler.withLock { $0 = handler.map(FaultHandler.init(resolve:)) }
    }

    /// Whether paged-out `frame`'s ciphertext sits in its own backing, held by the
    /// hypervisor (after a page-out on touch).
    public func isHypervisorHeld(_ frame: GuestFrameNumber) -> Bool {
        table.withLock { $0.hypervisorHeld.contains(frame.rawValue) }
    }

    /// Whether the hypervisor has stored into hypervisor-held `frame` since its page-out:
    /// the ciphertext no longer authenticates, and the guest's next touch gets `U_P3`.
    public func isHypervisorWritten(_ frame: GuestFrameNumber) -> Bool {
        table.withLock { $0.hypervisorWritten.contains(frame.rawValue) }
    }

    /// Host memory actually used by guest RAM, measured with `mincore` (host pages).
    public func residentBytes() -> UInt64 { table.withLock { _ in ram.residentBytes() } }
}

/// A secure vCPU touched a page the Ultravisor must first bring in.
public struct PageFault: Hashable, Sendable {
    /// The page.
    public let frame: GuestFrameNumber
    /// Its state at the fault.
    public let state: PageState
    /// The vCPU.
    public let vcpu: Int
    /// Read or write.
    public let access: MemoryAccessKind
}
