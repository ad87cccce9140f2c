import Foundation
import Locking
@_spi(Firmware) import PEFMachine
import PowerABI

#if canImport(Glibc)
    import Glibc
#endif

extension FaultWalk {
    /// The walk by copy-on-write (issue 21 item 3): one baseline run, which at every
    /// call of a walked site `fork()`s one child per status; the child returns that
    /// status instead of the call's, runs the rest of the phases, is judged exactly as
    /// ``run(_:)`` judges a scenario, writes its verdict to a file and exits. A scenario
    /// pays for its tail only, never for the prefix it shares with the baseline. At most
    /// `jobs` children run at once; a child that dies (a signal, or no verdict within
    /// `timeoutSeconds`) is an invariant broken.
    ///
    /// `fork()` duplicates only the calling thread: call this from a process with no
    /// other thread busy (the `svmkit` command line), not from a process running other
    /// work in parallel (a test runner), where ``walk(shard:jobs:progress:)`` is the way.
    /// - Throws: ``BootError`` when the configuration cannot be built, or when no
    ///   scratch directory can be made.
    public func walkForking(
        shard: FaultWalkShard? = nil, jobs: Int = 1, timeoutSeconds: UInt32 = 600,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws(BootError) -> FaultWalkReport {
        var template = Array("/tmp/svmkit-faults-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw BootError(input: "TMPDIR", "cannot make a scratch directory for the walk's verdicts: errno \(errno)")
        }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let vm = try SecureVirtualMachine(configuration: configuration)
        let forker = Forker(
            walk: self, shard: shard, jobs: max(1, jobs), directory: directory, timeout: timeoutSeconds, progress: progress)
        vm.machine.faults.setChooser { level, number, caller in forker.choose(level: level, number: number, caller: caller) }
        var ends: [(FaultWalkPhase, Int)] = []
        let broken = execute(vm, starting: { forker.phase = $0 }) { phase in
            ends.append((phase, vm.machine.trace.records.map(\.sequence).max() ?? -1))
        }
        if let index = forker.childIndex {
            // The child: judge the run and leave.
            let r = judge(
                vm, broken: broken, injected: vm.machine.faults.injections.count, index: index, site: "", context: "",
                status: "", phase: forker.phase, rule: "")
            forker.writeVerdict(Verdict(outcome: r.outcome, diagnosis: r.diagnosis, site: forker.childSite))
            _exit(0)
        }
        vm.machine.faults.setChooser(nil)
        forker.reapAll()

        let base = baseline(of: vm, broken: broken, phaseEnds: ends)
        let (sites, scenarios, baselineRow) = (base.sites, base.scenarios, base.row)
        var rows: [FaultWalkRow] = []
        for s in scenarios where shard?.contains(s.index) ?? true {
            var diagnosis: [String]
            var outcome: FaultWalkOutcome
            if let v = forker.verdict(s.index) {
                outcome = v.outcome
                diagnosis = v.diagnosis
                if v.site != s.site.id {
                    outcome = .invariantBroken
                    diagnosis.insert(
                        "the forked run failed call \(v.site), not \(s.site.id): the baseline's calls are not numbered as its trace says",
                        at: 0)
                }
            } else {
                outcome = .invariantBroken
                diagnosis = [forker.failure(s.index) ?? "the forked run left no verdict"]
            }
            var r = FaultWalkRow(
                index: s.index, site: s.site.id, context: s.site.context, status: s.status, phase: s.site.phase,
                outcome: outcome, diagnosis: diagnosis, explainedBy: nil, rule: s.rule.description)
            if outcome != .invariantBroken { r.explainedBy = FaultWalkExpectations.explain(r, using: expectations) }
            rows.append(r)
        }
        if forker.forked != rows.count {
            var r = baselineRow
            r.outcome = FaultWalkOutcome.invariantBroken
            r.explainedBy = nil
            r.diagnosis.insert("the baseline forked \(forker.forked) scenario(s), its trace gives \(rows.count)", at: 0)
            return FaultWalkReport(
                sites: sites.count, scenarioCount: scenarios.count, walk: fingerprint,
                shards: shard.map { [$0.description] } ?? [], baseline: r, scenarios: rows)
        }
        return FaultWalkReport(
            sites: sites.count, scenarioCount: scenarios.count, walk: fingerprint,
            shards: shard.map { [$0.description] } ?? [], baseline: baselineRow, scenarios: rows)
    }

    /// What a forked child found.
    struct Verdict: Codable {
        var outcome: FaultWalkOutcome
        var diagnosis: [String]
        var site: String
    }

    /// The baseline's side of the copy-on-write walk: counts calls, forks at walked
    /// sites, reaps children. Used by one thread only (the baseline's), hence unchecked.
    final class Forker: @unchecked Sendable {
        let walk: FaultWalk
        let shard: FaultWalkShard?
        let jobs: Int
        let directory: String
        let timeout: UInt32
        let progress: (@Sendable (Int, Int) -> Void)?
        /// The phase running now.
        var phase: FaultWalkPhase = .boot
        /// In a child: its scenario and site.
        var childIndex: Int?
        var childSite = ""
        /// Scenarios numbered so far, forked, finished.
        var next = 0
        var forked = 0
        var finished = 0
        private var phaseCounts: [String: Int] = [:]
        private var children: [pid_t: Int] = [:]
        private var failures: [Int: String] = [:]

        init(
            walk: FaultWalk, shard: FaultWalkShard?, jobs: Int, directory: String, timeout: UInt32,
            progress: (@Sendable (Int, Int) -> Void)?
        ) {
            self.walk = walk
            self.shard = shard
            self.jobs = jobs
            self.directory = directory
            self.timeout = timeout
            self.progress = progress
        }

        /// The chooser: nil in the baseline (which forks first) and in a child after
        /// its fault; the status in a child at its fault.
        func choose(level: CallLevel, number: UInt64, caller: Caller) -> FaultRule.Action? {
            guard childIndex == nil, level == .sc1 || level == .sc2 else { return nil }
            let opcode: FaultRule.Opcode =
                level == .sc2 ? .ultracall(Ultracall(rawValue: number)) : .hypercall(Hypercall(rawValue: number))
            guard walk.phases.contains(phase) else { return nil }
            let key = "\(phase.rawValue)/\(caller.kind.rawValue):\(opcode.name)"
            phaseCounts[key, default: 0] += 1
            let site = FaultWalkSite(
                phase: phase,
                call: FaultCallSite(caller: caller.kind, opcode: opcode, occurrence: 0, context: [], arguments: []),
                occurrenceInPhase: phaseCounts[key] ?? 1)
            for action in FaultWalkStatuses.statuses(of: opcode) {
                let index = next
                next += 1
                guard shard?.contains(index) ?? true else { continue }
                while children.count >= jobs { reapOne() }
                let pid = fork()
                if pid == 0 {
                    childIndex = index
                    childSite = site.id
                    alarm(timeout)
                    return action
                }
                forked += 1
                if pid < 0 {
                    failures[index] = "fork() failed: errno \(errno)"
                    finished += 1
                } else {
                    children[pid] = index
                }
            }
            return nil
        }

        private func reapOne() {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            guard pid > 0, let index = children.removeValue(forKey: pid) else {
                if pid < 0 { children.removeAll() }
                return
            }
            let signal = status & 0x7F
            if signal != 0 {
                failures[index] =
                    signal == SIGALRM
                    ? "the forked run gave no verdict within \(timeout) s (a hang)"
                    : "the forked run died with signal \(signal)"
            } else if (status >> 8) & 0xFF != 0 {
                failures[index] = "the forked run exited with status \((status >> 8) & 0xFF)"
            }
            finished += 1
            progress?(finished, 0)
        }

        func reapAll() { while !children.isEmpty { reapOne() } }

        private func path(_ index: Int) -> String { "\(directory)/\(index).json" }

        func writeVerdict(_ v: Verdict) {
            guard let index = childIndex, let data = try? JSONEncoder().encode(v) else { _exit(3) }
            guard FileManager.default.createFile(atPath: path(index), contents: data) else { _exit(4) }
        }

        func verdict(_ index: Int) -> Verdict? {
            guard let data = FileManager.default.contents(atPath: path(index)) else { return nil }
            return try? JSONDecoder().decode(Verdict.self, from: data)
        }

        func failure(_ index: Int) -> String? { failures[index] }
    }
}
