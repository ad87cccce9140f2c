import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Synchronization
import Testing

@testable import SVMKit

/// Issue 8 item 2: a walk over every call site of a default secure boot (256 MiB,
/// 2 vCPUs) and what follows it (a page-out round trip, block I/O through the bounce
/// pool, a normal kexec, block I/O on the next kernel), and over the calls of the
/// `UV_ESM` abort path, each failed with every failure its opcode documents
/// (`FaultCatalog`), BUSY, and, for share ranges, stopped part way.
///
/// Every (caller, opcode, occurrence) of the baseline traces is a call site. Where a
/// stratum (caller, the calls it is made under, opcode) has more than
/// `FaultWalk.perStratum` sites, as `UV_PAGE_IN` under `H_SVM_INIT_DONE` (4067) or
/// under the SWIOTLB share (1024) does, the walk takes its first, its last and a
/// seeded sample of the rest (`FaultCallSite.sample`, seed `FaultWalk.seed`); every
/// other site is walked. `UV_RETURN` is not walked (see `FaultCatalog`).
///
/// Each run must end as requested, continue with the failure reported, or halt with
/// an explained error; and never break a safety invariant (`InvariantChecker`: an
/// isolation violation, a page shared that the ledger does not know or the reverse,
/// the hypervisor's view of shared pages differing from the Ultravisor's, a page-out
/// that is not ciphertext), bring back other bytes from a page-out or a block
/// round trip, or crash.
@Suite("Fault walk over every call site of a default secure boot")
struct FaultWalkTests {
    @Test("The baselines: the secure run ends as requested, the abort run halts with os-term; both hold every invariant")
    func baselines() throws {
        let (sites, report) = try #require(FaultWalk.baselineSites(abortPath: false))
        #expect(report.endedAsRequested, "\(report.invariantFailures) \(report.guestFaults)")
        let names = Set(sites.map(\.opcode.name))
        for name in ["UV_ESM", "UV_SHARE_PAGE", "UV_UNSHARE_ALL_PAGES", "H_TPM_COMM", "H_SVM_PAGE_IN", "UV_PAGE_IN",
            "UV_PAGE_OUT", "H_REGISTER_VPA", "H_RTAS", "H_SVM_INIT_DONE"]
        {
            #expect(names.contains(name), "\(name) is not in the baseline")
        }
        let (abortSites, abort) = try #require(FaultWalk.baselineSites(abortPath: true))
        #expect(abort.osTerm == "Switch to secure mode failed.")
        #expect(abort.invariantFailures.isEmpty, "\(abort.invariantFailures)")
        #expect(abortSites.contains { $0.opcode == .hypercall(.svmInitAbort) })
        #expect(abortSites.contains { $0.opcode == .ultracall(.terminateSVM) })
    }

    @Test("Every sampled call site × every documented failure: an explained outcome, no safety invariant broken")
    func walk() async throws {
        let (scenarios, callSites) = FaultWalk.scenarios()
        #expect(scenarios.count > 500, "the walk should be broad: \(scenarios.count) scenarios")
        let results = await withTaskGroup(of: FaultWalk.Result.self) { group in
            var next = 0
            var out: [FaultWalk.Result] = []
            let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
            while next < min(width, scenarios.count) {
                let s = scenarios[next]
                group.addTask { FaultWalk.scenario(s) }
                next += 1
            }
            while let r = await group.next() {
                out.append(r)
                if next < scenarios.count {
                    let s = scenarios[next]
                    group.addTask { FaultWalk.scenario(s) }
                    next += 1
                }
            }
            return out
        }
        if ProcessInfo.processInfo.environment["SVMKIT_FAULT_WALK_LOG"] != nil {
            for r in results { print("\(r.outcome?.rawValue ?? "?") | \(r.scenario) | \(r.detail)") }
        }
        for r in results where !r.problems.isEmpty {
            Issue.record("\(r.scenario): \(r.problems.joined(separator: "; "))")
        }
        var byOutcome: [FaultWalk.Outcome: Int] = [:]
        for r in results { if let o = r.outcome { byOutcome[o, default: 0] += 1 } }
        let summary = FaultWalk.Outcome.allCases.map { "\($0.rawValue) \(byOutcome[$0] ?? 0)" }.joined(separator: ", ")
        let walked = Set(scenarios.map(\.site)).count
        print("fault walk: \(results.count) scenarios over \(walked) of \(callSites) call sites: \(summary)")
        #expect(results.count == scenarios.count)
    }
}
