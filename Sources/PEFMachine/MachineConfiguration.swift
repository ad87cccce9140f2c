/// What a ``Machine`` is built from.
public struct MachineConfiguration: Hashable, Sendable {
    /// The most vCPUs: the Ultravisor's `MAX_GUEST_CPUS` (reference/ultravisor-facts.md §2.5).
    public static let maximumProcessors = 4096

    /// Guest RAM in bytes (a multiple of 64 KiB).
    public var memoryBytes: UInt64
    /// Number of vCPUs.
    public var processorCount: Int
    /// Whether the machine has the Protected Execution Facility (an Ultravisor). Without
    /// it, `sc 2` goes to the hypervisor, which fails it.
    public var pefEnabled: Bool
    /// Seed of the machine's generator (register scrubbing, `H_RANDOM`, page-out keys)
    /// and of the fault plan's probability triggers.
    public var seed: UInt64
    /// The partition's LPID (LPIDR of every vCPU).
    public var lpid: UInt64
    /// Simulated costs.
    public var costs: CostModel
    /// Whether the trace keeps a record per call (counts are always kept).
    public var traceRecordsDetail: Bool
    /// The most trace records kept.
    public var traceRecordLimit: Int
    /// Faults to inject from the start.
    public var faults: [FaultRule]
    /// What a hypervisor access to a secure page does (default: as on hardware).
    public var hypervisorTouch: HypervisorTouch

    /// A configuration; the defaults are `svmkit boot`'s: 4 GiB, 4 vCPUs, PEF on, seed 0.
    public init(
        memoryBytes: UInt64 = 4 << 30, processorCount: Int = 4, pefEnabled: Bool = true, seed: UInt64 = 0,
        lpid: UInt64 = 1, costs: CostModel = CostModel(), traceRecordsDetail: Bool = true,
        traceRecordLimit: Int = 1 << 20, faults: [FaultRule] = [], hypervisorTouch: HypervisorTouch = .pageOut
    ) {
        self.memoryBytes = memoryBytes
        self.processorCount = processorCount
        self.pefEnabled = pefEnabled
        self.seed = seed
        self.lpid = lpid
        self.costs = costs
        self.traceRecordsDetail = traceRecordsDetail
        self.traceRecordLimit = traceRecordLimit
        self.faults = faults
        self.hypervisorTouch = hypervisorTouch
    }
}

/// Why the partition stopped.
public enum PartitionStop: Hashable, Sendable, CustomStringConvertible {
    /// RTAS `ibm,os-term`, with the message the hypervisor read (nil if it could not).
    case osTerm(message: String?)
    /// RTAS `power-off`.
    case powerOff
    /// The Ultravisor killed the SVM.
    case killed(SVMKill)
    /// The SVM was terminated (`UV_SVM_TERMINATE` of a secure SVM) or the firmware
    /// stopped it for another reason.
    case terminated(reason: String)
    /// The firmware itself crashed (an `assert` or `abort()` in the Ultravisor): the
    /// whole machine stops, not only this partition.
    case firmwareCrash(reason: String)

    /// In words.
    public var description: String {
        switch self {
        case .osTerm(let m): "ibm,os-term: " + (m ?? "<message unreadable>")
        case .powerOff: "power-off"
        case .killed(let k): k.description
        case .terminated(let r): "terminated: " + r
        case .firmwareCrash(let r): "firmware crash: " + r
        }
    }
}
