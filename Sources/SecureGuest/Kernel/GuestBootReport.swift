public import PowerABI

/// What ``GuestKernel/start(processors:fdtAddress:kernelBase:)`` did: the facts the
/// façade and `svmkit boot` print.
public struct GuestBootReport: Hashable, Sendable, CustomStringConvertible {
    /// `is_secure_guest()` at boot.
    public let secure: Bool
    /// vCPUs (`nr_cpu_ids`).
    public let processors: Int
    /// The command line acted on.
    public let commandLine: String
    /// RAM the kernel manages.
    public let memoryBytes: UInt64
    /// Each vCPU's LPPACA (VPA) address.
    public let lppacas: [GuestPhysicalAddress]
    /// The shared LPPACA region (base, size), on a secure guest.
    public let sharedLPPACARegion: SharedLPPACARegion?
    /// VPA registrations the hypervisor refused.
    public let vpaFailures: [RegistrationFailure]
    /// Each vCPU's DTL buffer (`nil` where none).
    public let dispatchTraceLogs: [GuestPhysicalAddress?]
    /// DTL registrations the hypervisor refused.
    public let dtlFailures: [RegistrationFailure]
    /// Pages the `dtl` cache constructor shared.
    public let dtlSharedPages: Int
    /// The default SWIOTLB pool (base, bytes, slots, areas), if any.
    public let swiotlb: SWIOTLBSummary?
    /// Whether every streaming DMA mapping bounces.
    public let dmaForcedBounce: Bool
    /// The IPI choice of `pSeries_smp_probe()`.
    public let ipi: IPIChoice
    /// `UV_SHARE_PAGE` calls made during boot, by owner.
    public let shareCalls: [SharedPageOwner: Int]
    /// Faults the kernel noticed itself during boot (an observer's diagnosis adds the
    /// machine's records).
    public let faults: [GuestFault]
    /// `/sys/devices/system/cpu/svm` after boot.
    public let sysfsSVM: String

    /// A few lines for `svmkit boot`.
    public var description: String {
        var lines: [String] = []
        lines.append("guest: \(secure ? "secure" : "normal"), \(processors) vCPU(s), \(memoryBytes >> 20) MiB")
        lines.append("sysfs: \(SysfsView.svmPath) = \(sysfsSVM.split(separator: "\n").first ?? "")")
        if let r = sharedLPPACARegion {
            lines.append(
                "lppaca: shared region \(r.base) + 0x\(String(r.totalSize, radix: 16)) in \(shareCalls[.lppaca, default: 0]) share call(s)")
        } else {
            lines.append("lppaca: \(lppacas.count) separate, nothing shared")
        }
        lines.append(
            "dtl: \(dispatchTraceLogs.compactMap { $0 }.count) buffer(s), \(dtlSharedPages) page(s) shared by dtl_cache_ctor")
        if let s = swiotlb { lines.append("swiotlb: \(s)") } else { lines.append("swiotlb: none") }
        lines.append("ipi: \(ipi)")
        for f in vpaFailures + dtlFailures { lines.append("registration refused: \(f)") }
        for f in faults { lines.append("fault: \(f)") }
        return lines.joined(separator: "\n")
    }
}

/// The default SWIOTLB pool in a report.
public struct SWIOTLBSummary: Hashable, Sendable, CustomStringConvertible {
    /// First guest-physical address.
    public let base: GuestPhysicalAddress
    /// Bytes.
    public let bytes: Int
    /// 2 KiB slots.
    public let slots: Int
    /// Areas.
    public let areas: Int
    /// Whether it was shared with the hypervisor.
    public let shared: Bool

    /// e.g. `[mem 0x…-0x…] (64MB), 32768 slots, 4 areas, shared`.
    public var description: String {
        let end = GuestPhysicalAddress(base.rawValue &+ UInt64(bytes) &- 1)
        return "[mem \(base)-\(end)] (\(bytes >> 20)MB), \(slots) slots, \(areas) area(s), "
            + (shared ? "shared" : "not shared")
    }
}
