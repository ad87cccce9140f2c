@_spi(Firmware) import PEFMachine
import PowerABI
import Locking

/// The simulated Ultravisor: the firmware that owns secure memory on a PEF machine
/// (models `open-power/ultravisor`, HEAD 63669595; facts in
/// reference/ultravisor-facts.md).
///
/// Attach it to a `Machine` with `machine.attach(ultravisor:)`. The router sends it
/// every admitted `sc 2` (``handleUltracall(_:on:)``) and every `sc 1` of a secure
/// vCPU (``handleSecureHypercall(_:on:)``). It keeps one record per LPID (the SVM
/// state machine of ``SVMLifecycle``, memory slots, page-out keys), answers the
/// hypervisor's page-in, page-out and invalidation calls, runs the share protocol,
/// reflects hcalls with scrubbed registers and handles `UV_RETURN`.
///
/// It never holds its own lock while it calls out (hypercalls, memory faults), since
/// the hypervisor answers with ultracalls that take it again.
public final class Ultravisor: UltravisorFirmware, Sendable {
    /// How it was built (the ESM check policy, the TPM wrapping key).
    public let configuration: UltravisorConfiguration
    let state = Lock(UltravisorState())

    /// An Ultravisor with no SVMs.
    public init(configuration: UltravisorConfiguration = UltravisorConfiguration()) {
        self.configuration = configuration
    }

    // MARK: Inspection

    /// The lifecycle of the SVM with this LPID, or `nil` if the partition is normal.
    public func lifecycle(of lpid: UInt64) -> SVMLifecycle? { state.withLock { $0.svms[lpid]?.lifecycle } }

    /// The memory slots registered for this LPID, by id.
    public func memorySlots(of lpid: UInt64) -> [MemorySlot] {
        state.withLock { ($0.svms[lpid]?.memorySlots.values).map { $0.sorted { $0.id < $1.id } } ?? [] }
    }

    /// The partition-table entry for this LPID, if one was written.
    public func partitionTableEntry(of lpid: UInt64) -> PartitionTableEntry? {
        state.withLock { $0.partitionTable[lpid] }
    }

    /// LPIDs whose SVM was terminated, in order.
    public var terminatedLPIDs: [UInt64] { state.withLock { $0.terminatedLPIDs } }

    /// Where the real firmware would have aborted, asserted or crashed.
    public var anomalies: [UltravisorAnomaly] { state.withLock { $0.anomalies } }

    /// Frames of this SVM the page-in tracking bitmap holds (the current ESM's page-ins).
    public func trackedPageIns(of lpid: UInt64) -> Int { state.withLock { $0.svms[lpid]?.pageInTracking.count ?? 0 } }

    /// Reflected hcalls still waiting for `UV_RETURN` (0 between calls).
    public var pendingReflections: Int { state.withLock { $0.reflections.count } }

    func recordAnomaly(_ call: String, _ realFirmware: String, on machine: Machine, caller: Caller) {
        state.withLock { $0.anomalies.append(UltravisorAnomaly(call: call, realFirmware: realFirmware)) }
        machine.traceEvent("UV_ANOMALY", caller: caller, note: "\(call): \(realFirmware)")
    }

    /// Where the real firmware `assert`s or `abort()`s: under
    /// ``PEFMachine/FirmwareProfile/openPower`` the whole machine stops
    /// (``PEFMachine/PartitionStop/firmwareCrash(reason:)``), as it does on hardware;
    /// under `documented` only the anomaly is kept and the caller gets a status.
    /// Returns whether the machine stopped.
    @discardableResult
    func crashIfOpenPower(_ reason: String, on machine: Machine) -> Bool {
        guard configuration.firmware == .openPower else { return false }
        machine.stop(.firmwareCrash(reason: reason))
        return true
    }

    /// The LPID of the vCPU that made `call` (its LPIDR), or the machine's.
    func lpid(of call: FirmwareCall, on machine: Machine) -> UInt64 {
        call.caller.vcpu.flatMap { machine.processor($0)?.lpidr } ?? machine.lpid
    }

    // MARK: UltravisorFirmware

    /// Dispatches an admitted ultracall by number (reference/ultravisor-facts.md §1.1).
    public func handleUltracall(_ call: inout FirmwareCall, on machine: Machine) {
        switch Ultracall(rawValue: call.number) {
        case .writePATE: writePartitionTableEntry(&call, on: machine)
        case .restrictedSPRWrite: restrictedSPRWrite(&call)
        case .restrictedSPRRead: restrictedSPRRead(&call)
        case .enterSecureMode: enterSecureMode(&call, on: machine)
        case .readSCOM: readSCOM(&call)
        case .writeSCOM: writeSCOM(&call)
        case .return: returnFromHypervisor(&call, on: machine)
        case .registerMemorySlot: registerMemorySlot(&call, on: machine)
        case .unregisterMemorySlot: unregisterMemorySlot(&call, on: machine)
        case .pageIn: pageIn(&call, on: machine)
        case .pageOut: pageOut(&call, on: machine)
        case .sharePage: sharePage(&call, on: machine)
        case .unsharePage: unsharePage(&call, on: machine)
        case .pageInvalidate: pageInvalidate(&call, on: machine)
        case .terminateSVM: terminateSVM(&call, on: machine)
        case .unshareAllPages: unshareAllPages(&call, on: machine)
        case .readMemory, .writeMemory: accessMemoryWhitelist(&call)
        case .getESMFile: getESMFile(&call, on: machine)
        case .sendSBECommand: sendSBECommand(&call)
        default: call.finish(UltravisorStatus.function)
        }
    }

    /// Answers or reflects a secure vCPU's `sc 1` (the rules are on `secureHypercall`
    /// in `Ultravisor+Reflection.swift`: `H_RANDOM` answered here, `H_RTAS` bounced,
    /// everything else reflected with scrubbed registers).
    public func handleSecureHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        secureHypercall(&call, on: machine)
    }

    /// Brings in the page a secure vCPU faulted on.
    public func handlePageFault(_ fault: PageFault, on machine: Machine) -> Bool {
        resolvePageFault(fault, on: machine)
    }
}
