import Foundation
import Locking
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Synchronization

/// The exhaustive fault walk (issue 21): one baseline run of a guest through its
/// phases (``FaultWalkPhase``: boot, block I/O through SWIOTLB, a normal and a crash
/// kexec), every ultracall and hypercall of it as a site (``FaultWalkSite``), and for
/// each site and each status its call can really return (``FaultWalkStatuses``) one
/// more run with that fault, judged (``FaultWalkOutcome``) and checked against what
/// Linux is expected to do (``FaultWalkExpectations``).
///
/// ```swift
/// let walk = FaultWalk(configuration: BootConfiguration())
/// let report = try walk.walk(jobs: 2)
/// print(report.sites, report.countsByOutcome)
/// ```
///
/// The simulator is deterministic: a scenario's run is the baseline's up to its site,
/// so the walk may run scenarios on any number of threads (`jobs`), in any shard
/// (``FaultWalkShard``), and join the shards later (``FaultWalkReport/merge(_:)``).
public struct FaultWalk: Sendable {
    /// Called after each phase of every run (the baseline's included): a test double
    /// may plant an inconsistency here to check that the walk reports it.
    public typealias PhaseHook = @Sendable (FaultWalkPhase, SecureVirtualMachine) -> Void

    /// One scenario: a site and the status injected there.
    public struct Scenario: Hashable, Sendable {
        /// Its number in the whole walk, from 0.
        public let index: Int
        /// The site.
        public let site: FaultWalkSite
        /// What the call returns instead.
        public let action: FaultRule.Action
        /// The rule that injects it (its occurrence counted over the whole run).
        public var rule: FaultRule { site.call.rule(action) }
        /// The status's C name.
        public var status: String { FaultWalkStatuses.name(action.status, of: site.call.opcode) }
    }

    /// The baseline run: its sites, its own judgement, and the scenarios it gives.
    public struct Baseline: Sendable {
        /// Every call site in the walked phases, in call order.
        public let sites: [FaultWalkSite]
        /// The baseline run, judged as a scenario is (site `baseline`).
        public let row: FaultWalkRow
        /// Every scenario: each site × each status of ``FaultWalkStatuses``.
        public let scenarios: [Scenario]
    }

    /// What to boot.
    public let configuration: BootConfiguration
    /// The phases whose calls are walked (the phases before the last of them always run).
    public let phases: Set<FaultWalkPhase>
    /// Deliberate guest bugs every run is booted with (`GuestBug`, in SecureGuest).
    public let bugs: Set<GuestBug>
    /// What explains an outcome.
    public let expectations: [FaultWalkExpectation]
    private let afterPhase: PhaseHook?

    /// A walk of `configuration` over `phases`.
    public init(
        configuration: BootConfiguration, phases: Set<FaultWalkPhase> = Set(FaultWalkPhase.allCases),
        bugs: Set<GuestBug> = [], expectations: [FaultWalkExpectation] = FaultWalkExpectations.linux,
        afterPhase: PhaseHook? = nil
    ) {
        self.configuration = configuration
        self.phases = phases
        self.bugs = bugs
        self.expectations = expectations
        self.afterPhase = afterPhase
    }

    /// The phases that run: every phase up to the last walked one.
    var runPhases: [FaultWalkPhase] {
        guard let last = phases.max() else { return [] }
        return FaultWalkPhase.allCases.filter { $0 <= last }
    }

    /// Runs the baseline and lists the scenarios.
    /// - Throws: ``BootError`` when the configuration cannot be built.
    public func baseline() throws(BootError) -> Baseline {
        let vm = try SecureVirtualMachine(configuration: configuration)
        var ends: [(FaultWalkPhase, Int)] = []
        let broken = execute(vm) { phase in ends.append((phase, vm.machine.trace.records.map(\.sequence).max() ?? -1)) }
        return baseline(of: vm, broken: broken, phaseEnds: ends)
    }

    /// The walked sites of a finished baseline run, one scenario per site and status
    /// (numbered in that order), and the baseline's own row.
    func baseline(of vm: SecureVirtualMachine, broken: [String], phaseEnds ends: [(FaultWalkPhase, Int)]) -> Baseline {
        let sites = FaultWalkSite.sites(in: vm.machine.trace.records, phaseEnds: ends).filter { phases.contains($0.phase) }
        var scenarios: [Scenario] = []
        for site in sites {
            for action in FaultWalkStatuses.statuses(of: site.call.opcode) {
                scenarios.append(Scenario(index: scenarios.count, site: site, action: action))
            }
        }
        let row = judge(
            vm, broken: broken, injected: 0, index: -1, site: "baseline", context: "", status: "none", phase: .boot,
            rule: "")
        return Baseline(sites: sites, row: row, scenarios: scenarios)
    }

    /// Runs one scenario and judges it.
    public func run(_ s: Scenario) -> FaultWalkRow {
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: configuration, faults: [s.rule])
        } catch {
            return row(
                s, outcome: .invariantBroken, diagnosis: ["the baseline's configuration no longer builds: \(error)"])
        }
        let broken = execute(vm) { _ in }
        return judge(
            vm, broken: broken, injected: vm.machine.faults.injections.count, index: s.index, site: s.site.id,
            context: s.site.context, status: s.status, phase: s.site.phase, rule: s.rule.description)
    }

    /// The whole walk, or one shard of it, on `jobs` threads; `progress` is called
    /// with (done, total) after each scenario.
    /// - Throws: ``BootError`` when the configuration cannot be built.
    public func walk(
        shard: FaultWalkShard? = nil, jobs: Int = 1, progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws(BootError) -> FaultWalkReport {
        let base = try baseline()
        let mine = base.scenarios.filter { shard?.contains($0.index) ?? true }
        let rows = Lock([FaultWalkRow]())
        let next = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, mine.count))) { _ in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < mine.count else { return }
                let r = run(mine[i])
                let done = rows.withLock {
                    $0.append(r)
                    return $0.count
                }
                progress?(done, mine.count)
            }
        }
        return FaultWalkReport(
            sites: base.sites.count, scenarioCount: base.scenarios.count, walk: fingerprint,
            shards: shard.map { [$0.description] } ?? [], baseline: base.row, scenarios: rows.withLock { $0 })
    }

    /// What is walked, in words (shards of one walk must agree on it).
    public var fingerprint: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for bytes in [configuration.kernel ?? [], configuration.initrd ?? [], configuration.deviceTree ?? []] {
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0xFF) &* 0x100_0000_01b3
        }
        let c = configuration
        return "\(c.memoryBytes >> 20) MiB, \(c.cpuCount) vCPU(s), cmdline \"\(c.commandLine)\", "
            + "phases \(phases.sorted().map(\.rawValue).joined(separator: ",")), seed \(c.seed), "
            + "firmware \(c.firmware.rawValue), bugs [\(bugs.map(\.rawValue).sorted().joined(separator: ","))], "
            + "images \(String(hash, radix: 16))"
    }

    /// Runs the phases; returns the safety invariants broken after each.
    func execute(
        _ vm: SecureVirtualMachine, starting: (FaultWalkPhase) -> Void = { _ in }, ended: (FaultWalkPhase) -> Void
    ) -> [String] {
        var broken: [String] = []
        for phase in runPhases {
            starting(phase)
            let running = vm.kernel?.phase == .running && !vm.machine.isStopped
            switch phase {
            case .boot: _ = vm.boot(bugs: bugs)
            case .io: if running { vm.exerciseBlockDevice() }
            case .kexec:
                if running {
                    vm.kexec(.normal)
                    if vm.kernel?.phase == .running && !vm.machine.isStopped { vm.kexec(.crash) }
                }
            }
            afterPhase?(phase, vm)
            ended(phase)
            for v in vm.invariantViolations() where v.kind.isSafety { broken.append("after \(phase.rawValue): \(v)") }
        }
        return broken
    }

    private func row(_ s: Scenario, outcome: FaultWalkOutcome, diagnosis: [String]) -> FaultWalkRow {
        FaultWalkRow(
            index: s.index, site: s.site.id, context: s.site.context, status: s.status, phase: s.site.phase,
            outcome: outcome, diagnosis: diagnosis, explainedBy: nil, rule: s.rule.description)
    }

    /// Judges a finished run.
    func judge(
        _ vm: SecureVirtualMachine, broken: [String], injected: Int, index: Int, site: String, context: String,
        status: String, phase: FaultWalkPhase, rule: String
    ) -> FaultWalkRow {
        let expectedInjections = index < 0 ? 0 : 1
        let (outcome, diagnosis) = Self.classify(vm, broken: broken, injected: injected, expected: expectedInjections)
        var r = FaultWalkRow(
            index: index, site: site, context: context, status: status, phase: phase, outcome: outcome,
            diagnosis: diagnosis.map { String($0.prefix(400)) }, explainedBy: nil, rule: rule)
        if outcome != .invariantBroken { r.explainedBy = FaultWalkExpectations.explain(r, using: expectations) }
        return r
    }

    /// The outcome of a finished run and what says so.
    static func classify(
        _ vm: SecureVirtualMachine, broken: [String], injected: Int, expected: Int
    ) -> (FaultWalkOutcome, [String]) {
        var broken = broken
        if injected != expected { broken.append("the fault was injected \(injected) time(s), not \(expected)") }
        let r = vm.report()
        let findings = vm.linuxFindings().map { "Linux finding: \($0)" }
        let diagnoses = r.diagnoses.map { "diagnosis: \($0)" }
        let block = r.blockDeviceCheck.flatMap { $0.passed ? nil : "block round trip: \($0)" }
        let damage = r.guestFaults + r.invariantFailures + diagnoses + findings + (block.map { [$0] } ?? [])
        guard broken.isEmpty else { return (.invariantBroken, broken + damage) }
        let running = vm.kernel?.phase == .running && !vm.machine.isStopped
        if !running {
            // A clean stop: os-term, prom_panic(), or the Ultravisor ending the SVM.
            let halt = [r.osTerm.map { "os-term \"\($0)\"" }, r.esmFailure.map { "UV_ESM: \($0)" }, r.stopReason]
                .compactMap { $0 }
            if !halt.isEmpty { return (.terminated, halt + damage.filter { !halt.contains($0) }) }
            // The guest kernel itself stopped (an access it could not complete): damage.
            let crash = r.invariantFailures.filter { $0.hasPrefix("kernel error") }
            guard !crash.isEmpty else {
                return (.invariantBroken, ["halted with nothing saying why: \(r.kernelLog.suffix(3))"] + damage)
            }
            return (.damaged, crash + damage.filter { !crash.contains($0) })
        }
        if r.secure != r.requestedSecure {
            return (.damaged, ["the guest runs \(r.secure ? "secure" : "not secure"), not as svm= asked"] + damage)
        }
        if damage.isEmpty && r.endedAsRequested { return (.handled, []) }
        return (.damaged, damage.isEmpty ? ["did not end as requested"] : damage)
    }
}
