import PowerABI
import Locking

/// The simulated partition: guest memory, vCPUs, the call router, the trace, the
/// fault plan, the simulated clock and the seeded generator.
///
/// The Ultravisor and the hypervisor attach to it (`attach(ultravisor:)`,
/// `attach(hypervisor:)`, `@_spi(Firmware)`) and are reached only through a vCPU's
/// `sc 1`/`sc 2` (``VirtualProcessor/sc1()``, ``VirtualProcessor/sc2()``) and the
/// firmware-to-firmware entry points `hypercall(_:from:depth:)` and
/// `ultracall(_:from:depth:)` (`@_spi(Firmware)`). The machine owns them;
/// they get the machine passed into every handler and keep no reference to it.
public final class Machine: Sendable {
    /// What it was built from.
    public let configuration: MachineConfiguration
    /// Guest RAM.
    public let memory: GuestMemory
    /// The hypervisor's page pool (page-out ciphertext lives there).
    @_spi(Firmware) public let hostMemory: HostMemory
    /// The vCPUs, index = vCPU number.
    public let processors: [VirtualProcessor]
    /// Every call routed.
    public let trace: Trace
    /// Simulated time.
    public let clock: SimulatedClock
    /// The one seeded generator.
    public let random: DeterministicRandom
    /// Faults to inject.
    public let faults: FaultPlan

    private struct Attached: Sendable {
        var ultravisor: (any UltravisorFirmware)?
        var hypervisor: (any HypervisorFirmware)?
    }

    private let attached = Lock(Attached())
    private let stopState = Lock<PartitionStop?>(nil)

    /// Builds a machine: maps guest memory (lazily), makes the vCPUs (vCPU 0 running
    /// in normal supervisor state, the others stopped), and seeds the generator.
    /// - Throws: ``MachineConfigurationError`` for a bad size, vCPU count or LPID.
    public init(configuration: MachineConfiguration) throws(MachineConfigurationError) {
        guard (1...MachineConfiguration.maximumProcessors).contains(configuration.processorCount) else {
            throw .invalidProcessorCount(configuration.processorCount)
        }
        guard configuration.lpid != 0 else { throw .invalidLPID(configuration.lpid) }
        self.configuration = configuration
        self.memory = try GuestMemory(
            byteCount: configuration.memoryBytes, hypervisorTouch: configuration.hypervisorTouch)
        self.hostMemory = HostMemory()
        self.trace = Trace(
            recordsDetail: configuration.traceRecordsDetail, recordLimit: configuration.traceRecordLimit)
        self.clock = SimulatedClock()
        self.random = DeterministicRandom(seed: configuration.seed)
        self.faults = FaultPlan(rules: configuration.faults, seed: configuration.seed)
        let link = MachineLink()
        processors = (0..<configuration.processorCount).map { i in
            VirtualProcessor(
                index: i, link: link, initial: ProcessorState(lpidr: configuration.lpid, isRunning: i == 0))
        }
        link.connect(self)
        memory.setFaultHandler { [weak self] fault in
            guard let self, let uv = self.ultravisor, self.configuration.pefEnabled else { return false }
            return uv.handlePageFault(fault, on: self)
        }
        memory.setHypervisorFaultHandler { [weak self] fault in
            guard let self, let hv = self.hypervisor else { return false }
            return hv.migrateToRAM(fault, on: self)
        }
    }

    /// Attaches the Ultravisor (replacing any earlier one).
    @_spi(Firmware) public func attach(ultravisor: any UltravisorFirmware) { attached.withLock { $0.ultravisor = ultravisor } }

    /// Attaches the hypervisor (replacing any earlier one).
    @_spi(Firmware) public func attach(hypervisor: any HypervisorFirmware) { attached.withLock { $0.hypervisor = hypervisor } }

    /// The attached Ultravisor.
    @_spi(Firmware) public var ultravisor: (any UltravisorFirmware)? { attached.withLock { $0.ultravisor } }

    /// The attached hypervisor.
    @_spi(Firmware) public var hypervisor: (any HypervisorFirmware)? { attached.withLock { $0.hypervisor } }

    /// vCPU `index`, or `nil`.
    public func processor(_ index: Int) -> VirtualProcessor? {
        processors.indices.contains(index) ? processors[index] : nil
    }

    /// The boot vCPU (0).
    public var bootProcessor: VirtualProcessor { processors[0] }

    /// The partition's LPID.
    public var lpid: UInt64 { configuration.lpid }

    // MARK: Lifecycle

    /// Stops the partition; the first reason is kept.
    @_spi(Firmware) public func stop(_ reason: PartitionStop) {
        stopState.withLock { if $0 == nil { $0 = reason } }
        trace.event(
            "PARTITION_STOP", caller: Caller(kind: .hypervisor, vcpu: nil, msr: .hypervisorKernel), time: clock.now,
            note: reason.description)
    }

    /// Why the partition stopped, if it did (an SVM killed by a bad page access counts).
    public var stopReason: PartitionStop? {
        if let s = stopState.withLock({ $0 }) { return s }
        return memory.kill.map { .killed($0) }
    }

    /// Whether the partition stopped.
    public var isStopped: Bool { stopReason != nil }
}

/// The vCPUs' weak way back to their machine (set once, right after the machine is
/// built, since a vCPU must exist before the machine that owns it is complete).
final class MachineLink: Sendable {
    private struct Weak: Sendable { weak var machine: Machine? }
    private let reference = Lock(Weak())

    func connect(_ machine: Machine) { reference.withLock { $0.machine = machine } }

    var machine: Machine? { reference.withLock { $0.machine } }
}
