import SVMKit
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Locking

/// One vCPU's thread in a soak: runs its seeded operation sequence, checking the
/// result of each operation as it goes, and keeps what must persist across kexecs
/// (the checksums of its disk).
final class SoakWorker: Sendable {
    /// What persists across cycles, and the per-cycle page bookkeeping.
    struct State: Sendable {
        /// The checksum of every sector of the vCPU's disk, as last written.
        var shadow: [UInt64]
        /// Operations this vCPU did in the run.
        var operationNumber = 0
        /// Block writes this vCPU did in the run.
        var writes = 0
        /// Which churn pages of the current cycle the vCPU has shared.
        var churnShared: [Bool] = []
        /// The first churn page of the current cycle.
        var churnBase: UInt64?
    }

    /// The Linux CPU number (and vCPU index) the thread runs as.
    let cpu: Int
    let configuration: SoakConfiguration
    let machine: Machine
    let hypervisor: Hypervisor
    let tally: SoakTally
    let state: Lock<State>

    init(cpu: Int, configuration: SoakConfiguration, machine: Machine, hypervisor: Hypervisor, tally: SoakTally) {
        self.cpu = cpu
        self.configuration = configuration
        self.machine = machine
        self.hypervisor = hypervisor
        self.tally = tally
        let sectors = Int(configuration.diskBytes / UInt64(SectorChecksum.sectorSize))
        self.state = Lock(State(shadow: [UInt64](repeating: SectorChecksum.zeroSector, count: sectors)))
    }

    /// The generator of one stream (a vCPU's operations, or the runner's kexec choices) in
    /// `cycle`: seeded with (seed, cycle, stream).
    static func generator(seed: UInt64, cycle: Int, stream: UInt64) -> Xoshiro256StarStar {
        var g = Xoshiro256StarStar(seed: seed)
        let base = g.next()
        return Xoshiro256StarStar(
            seed: base &+ UInt64(cycle) &* 0xD1B5_4A32_D192_ED03 &+ stream &* 0xABC9_8388_FB8F_AC03)
    }

    /// The pages of this vCPU's churn set the worker believes shared now.
    var sharedChurnPages: [Int] { state.withLock { s in s.churnShared.indices.filter { s.churnShared[$0] } } }

    /// The first churn page of the current cycle (`nil` before the first).
    var churnBase: UInt64? { state.withLock { $0.churnBase } }

    /// Runs one cycle's operations (stops early at the deadline, after at least one
    /// operation in the first cycle, or when another thread failed).
    func run(_ cycle: SoakCycle) {
        state.withLock { s in
            s.churnShared = [Bool](repeating: false, count: configuration.churnPages)
            s.churnBase = cycle.churnBase
            var g = Self.generator(seed: configuration.seed, cycle: cycle.cycle, stream: UInt64(cpu))
            var done = 0
            while done < cycle.operations, !tally.isStopped {
                if let deadline = cycle.deadline, cycle.cycle > 0 || done > 0, ContinuousClock.now >= deadline { break }
                s.operationNumber += 1
                let kind = SoakOperationKind.pick(Int.random(in: 0..<SoakOperationKind.weightTotal, using: &g))
                var did = kind
                do throws(SoakCheckFailure) {
                    try perform(kind, cycle, &s, &g, did: &did)
                    try checkIsolation(cycle.kernel)
                } catch {
                    // An isolation violation behind a failed operation is the failure to report first.
                    do throws(SoakCheckFailure) { try checkIsolation(cycle.kernel) } catch { fail(error, cycle, s.operationNumber, did) }
                    fail(error, cycle, s.operationNumber, did)
                    break
                }
                tally.update { $0.operations[did, default: 0] += 1 }
                done += 1
            }
        }
    }

    private func fail(_ error: SoakCheckFailure, _ cycle: SoakCycle, _ operation: Int, _ kind: SoakOperationKind) {
        if error.kind == .operation, !cycle.kernel.ledger.failedShares.isEmpty {
            // Linux went on after a failed share; what fails next is its consequence.
            tally.noteConsequence("cycle \(cycle.cycle), vCPU \(cpu), operation \(operation) (\(kind.rawValue)): \(error.message)")
            return
        }
        tally.fail(
            SoakFailure(
                kind: error.kind, cycle: cycle.cycle, vcpu: cpu, operation: operation, operationKind: kind,
                message: error.message, seed: configuration.seed,
                reproduce: configuration.reproduction(throughCycle: cycle.cycle)))
    }

    /// One operation; `did` is set to the kind actually done (a share with no private
    /// page left becomes an unshare, and so on) before it runs.
    private func perform(
        _ kind: SoakOperationKind, _ cycle: SoakCycle, _ s: inout State, _ g: inout Xoshiro256StarStar,
        did: inout SoakOperationKind
    ) throws(SoakCheckFailure) {
        try injectUnrecordedShare(cycle, &s)
        switch kind {
        case .blockWrite: try blockWrite(cycle, &s, &g)
        case .blockRead: try blockRead(cycle, &s, &g)
        case .dmaBidirectional: try bidirectional(cycle, &g)
        case .share, .unshare, .pageOut: try churn(kind, cycle, &s, &g, did: &did)
        case .coherent: try tally.coherentTurn { () throws(SoakCheckFailure) in try coherent(cycle, &g) }
        }
    }

    /// Fails if the machine recorded an isolation violation nobody has reported yet.
    private func checkIsolation(_ kernel: GuestKernel) throws(SoakCheckFailure) {
        let count = machine.memory.violationCount
        guard count > 0, let fresh = tally.claimViolations(upTo: count) else { return }
        let unexplained = SoakRunner.unexplainedViolations(fresh, memory: machine.memory, kernel: kernel, tally: tally)
        guard let first = unexplained.first else { return }
        throw SoakCheckFailure(.isolationViolation, "\(unexplained.count) isolation violation(s), first: \(first)")
    }

    /// The vCPU this thread runs on.
    func vcpu(_ cycle: SoakCycle) -> VirtualProcessor {
        let processors = cycle.kernel.processors
        return processors.indices.contains(cpu) ? processors[cpu] : machine.bootProcessor
    }

    /// `count` bytes from the generator.
    static func randomBytes(_ count: Int, _ g: inout Xoshiro256StarStar) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var i = 0
            while i + 8 <= count {
                raw.storeBytes(of: g.next(), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            if i < count {
                var last = g.next()
                while i < count {
                    raw[i] = UInt8(truncatingIfNeeded: last)
                    last >>= 8
                    i += 1
                }
            }
            initialized = count
        }
    }
}
