import Foundation
import PEFMachine
import PowerABI
import SecureGuest
import Synchronization
import Testing

@testable import SVMKit

/// The fault walk's machinery: the baseline runs, the scenarios, and how one run is
/// judged (issue 8 item 2).
enum FaultWalk {
    /// How a scenario ended. Anything else is a test failure.
    enum Outcome: String, Sendable, CaseIterable {
        /// Secure, running, every invariant holding, nothing reported: the failure was
        /// absorbed (a retry, an idempotent call) or had no visible effect.
        case asRequested = "ended as requested"
        /// Secure and running, with the failure reported: a guest fault naming the call
        /// site (a share rolled back, a registration refused, a quarantine) or an
        /// outcome invariant (shares left after kexec).
        case continuedWithReport = "continued, failure reported"
        /// Halted with an explained error: os-term, UV_ESM's failure, the partition's
        /// stop reason, or the kernel's error.
        case halted = "halted, explained"
    }

    /// One scenario: a rule, and which baseline it came from.
    struct Scenario: Sendable, CustomStringConvertible {
        let site: FaultCallSite
        let action: FaultRule.Action
        let abortPath: Bool
        var rule: FaultRule { site.rule(action) }
        var description: String { "\(rule) [\(site.stratum)]" + (abortPath ? " (abort path)" : "") }
    }

    /// One scenario's result.
    struct Result: Sendable {
        let scenario: String
        let outcome: Outcome?
        let problems: [String]
        /// What explains the outcome (for `SVMKIT_FAULT_WALK_LOG`).
        var detail = ""
    }

    /// The default secure boot, small: 256 MiB (the smallest the image builder
    /// accepts), 2 vCPUs, the default command line. Kernel and initrd (with its ESM
    /// blob) are built once and passed in, so a scenario does not make new keys.
    static let configuration: BootConfiguration = {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 256 << 20
        c.cpuCount = 2
        if let image = try? BootImageBuilder.build(c) {
            c.kernel = image.segment("kernel")?.bytes
            c.initrd = image.segment("initrd")?.bytes
        }
        return c
    }()

    /// The same image with one more space in the command line: the bootargs digest
    /// fails, `UV_ESM` takes the abort path (`H_SVM_INIT_ABORT`, `UV_PAGE_OUT` of every
    /// page handed over, `UV_SVM_TERMINATE`) and the guest terminates with os-term.
    static let abortConfiguration: BootConfiguration = {
        var c = configuration
        c.commandLine = "svm=on  console=hvc0"
        return c
    }()

    /// What a run does after a boot that came up secure: a page-out round trip of one
    /// kernel page, one block-device round trip, a normal kexec, and another block
    /// round trip on the next kernel. Returns problems (never acceptable) and notes
    /// (failures the run met that the boot report does not carry, e.g. a guest access
    /// to a paged-out page that could not be paged back in).
    static func run(_ vm: SecureVirtualMachine) -> (problems: [String], notes: [String]) {
        var problems: [String] = []
        var notes: [String] = []
        func checkSafety(_ when: String) {
            for v in vm.invariantViolations() where v.kind.isSafety { problems.append("\(when): \(v)") }
        }
        let boot = vm.boot()
        checkSafety("after boot")
        guard boot.secure, vm.kernel?.phase == .running else { return (problems, notes) }
        let (p, n) = pageOutRoundTrip(vm, frame: GuestPhysicalAddress(vm.image.kernelBase).frame.rawValue)
        problems += p
        notes += n
        checkSafety("after the page-out round trip")
        let check = vm.exerciseBlockDevice()
        // A pool Linux believes shared after ignoring its failed share is touched by
        // the device as on hardware: damage there is a finding about Linux.
        let explained = !vm.linuxFindings().isEmpty
        if check.corrupted {
            if explained { notes.append("block round trip: \(check)") } else { problems.append("block round trip: \(check)") }
        }
        if !check.passed { notes.append("block round trip: \(check)") }
        checkSafety("after block I/O")
        guard vm.kernel?.phase == .running else { return (problems, notes) }
        vm.kexec(.normal)
        checkSafety("after kexec")
        if vm.kernel?.phase == .running {
            let next = vm.exerciseBlockDevice()
            if next.corrupted {
                // The next kernel's own shares can fail too (its pool share is a later
                // UV_SHARE_PAGE): judge with the findings as they stand now.
                let line = "next kernel: block round trip: \(next)"
                if explained || !vm.linuxFindings().isEmpty { notes.append(line) } else { problems.append(line) }
            }
            if !next.passed { notes.append("next kernel: block round trip: \(next)") }
            checkSafety("after block I/O on the next kernel")
        }
        return (problems, notes)
    }

    /// The hypervisor pages `frame` out (as KVM under memory pressure), and the guest
    /// touches it, which faults it back in through the Ultravisor. The hypervisor's
    /// copy must differ from the plaintext (checked here against the bytes read before,
    /// independently of the checker's key check), and the guest must read back exactly
    /// what was there, or fail to read it; never other bytes.
    static func pageOutRoundTrip(_ vm: SecureVirtualMachine, frame: UInt64) -> (problems: [String], notes: [String]) {
        let address = GuestPhysicalAddress(frame << PageSize.shift)
        guard let before = try? vm.machine.memory.read(.ultravisor, at: address, count: Int(PageSize.bytes)) else {
            return (["cannot read \(address) as the Ultravisor"], [])
        }
        // depth −1: the hypervisor acts on its own here, not inside a hypercall, so its
        // UV_PAGE_OUT is a top-level call in the trace.
        let status = vm.hypervisor.pageOut(frame: frame, depth: -1, on: vm.machine)
        guard status == .success else { return ([], []) }
        var problems: [String] = []
        if let held = vm.hypervisor.pagedOutPage(frame: frame, on: vm.machine), held.bytes == before {
            problems.append("UV_PAGE_OUT of \(address) gave the hypervisor the plaintext")
        }
        do {
            let after = try vm.machine.bootProcessor.read(at: address, count: Int(PageSize.bytes))
            if after != before { problems.append("\(address) came back from a page-out with other bytes") }
            return (problems, [])
        } catch {
            return (problems, ["the guest's access to paged-out \(address) failed: \(error)"])
        }
    }

    /// Judges a finished run: an outcome, or problems.
    static func judge(_ vm: SecureVirtualMachine, injected: Int, problems: [String], notes: [String]) -> (Outcome?, [String]) {
        var problems = problems
        if injected != 1 { problems.append("the fault was injected \(injected) time(s), not once") }
        let r = vm.report()
        if r.endedAsRequested && notes.isEmpty { return (.asRequested, problems) }
        let halt = [r.osTerm.map { "os-term \"\($0)\"" }, r.esmFailure, r.stopReason]
            .compactMap { $0 } + r.invariantFailures.filter { $0.hasPrefix("kernel error") }
        if !r.secure || vm.machine.isStopped || vm.kernel?.phase != .running {
            if halt.isEmpty { problems.append("halted with nothing saying why: \(r.kernelLog.suffix(3))") }
            return (.halted, problems)
        }
        if r.guestFaults.isEmpty && r.invariantFailures.isEmpty && notes.isEmpty {
            problems.append("did not end as requested and nothing says why")
        }
        return (.continuedWithReport, problems)
    }

    /// Boots with one rule and judges the run.
    static func scenario(_ s: Scenario) -> Result {
        let config = s.abortPath ? abortConfiguration : configuration
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: config, faults: [s.rule], traceDetail: false)
        } catch {
            return Result(scenario: s.description, outcome: nil, problems: ["cannot build the machine: \(error)"])
        }
        let (problems, notes) = run(vm)
        let (outcome, all) = judge(vm, injected: vm.machine.faults.injections.count, problems: problems, notes: notes)
        let r = vm.report()
        let detail = ([r.osTerm, r.esmFailure, r.stopReason].compactMap { $0 } + r.guestFaults + r.invariantFailures + notes)
            .joined(separator: " / ")
        return Result(scenario: s.description, outcome: outcome, problems: all, detail: String(detail.prefix(300)))
    }

    /// The call sites of one baseline run, with detail.
    static func baselineSites(abortPath: Bool) -> (sites: [FaultCallSite], report: BootReport)? {
        guard let vm = try? SecureVirtualMachine(configuration: abortPath ? abortConfiguration : configuration) else {
            return nil
        }
        _ = run(vm)
        return (FaultCallSite.sites(in: vm.machine.trace.records), vm.report())
    }

    /// Sites per stratum a walk keeps: the first, the last and 6 drawn with the seed.
    /// `SVMKIT_FAULT_WALK_PER_STRATUM=N` widens it (`all`: every call site, about 26,000
    /// scenarios; an hour or more on two cores, so not part of `Scripts/test`).
    static let perStratum: Int = {
        let value = ProcessInfo.processInfo.environment["SVMKIT_FAULT_WALK_PER_STRATUM"]
        if value == "all" { return Int.max }
        return value.flatMap { Int($0) }.map { max(2, $0) } ?? 8
    }()
    /// The sample's seed.
    static let seed: UInt64 = 0x5EED_FA17

    /// Every scenario: every sampled site × every documented failure of its opcode,
    /// plus part-way progress for share and unshare ranges; and how many call sites
    /// the baselines have (`UV_RETURN`, which has no failure to inject, left out).
    /// From the abort baseline, only the calls from `H_SVM_INIT_ABORT` on (the ones
    /// before are the secure baseline's).
    static func scenarios() -> (scenarios: [Scenario], callSites: Int) {
        var out: [Scenario] = []
        var callSites = 0
        for abortPath in [false, true] {
            guard let (all, _) = baselineSites(abortPath: abortPath) else { continue }
            var sites = all
            if abortPath, let first = all.firstIndex(where: { $0.opcode == .hypercall(.svmInitAbort) }) {
                sites = Array(all[first...])
            }
            sites = sites.filter { !FaultCatalog.failures(of: $0.opcode).isEmpty }
            callSites += sites.count
            for site in FaultCallSite.sample(sites, perStratum: perStratum, seed: seed) {
                var actions = FaultCatalog.failures(of: site.opcode)
                if FaultCatalog.takesPartialProgress(site.opcode), site.arguments.count > 1 {
                    actions += FaultCatalog.partialProgress(pageCount: Int(clamping: site.arguments[1]))
                }
                out += actions.map { Scenario(site: site, action: $0, abortPath: abortPath) }
            }
        }
        return (out, callSites)
    }
}
