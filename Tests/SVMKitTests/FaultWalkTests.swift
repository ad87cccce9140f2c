import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Testing

@testable import SVMKit

/// Issue 21: the fault walk as a library (`FaultWalk`), checked on small walks here;
/// the whole walk runs through `svmkit faults walk` (Scripts/test runs a rotating
/// shard of it, Scripts/fault-walk all of it).
@Suite("Fault walk engine")
struct FaultWalkTests {
    @Test("The merge of three shards has exactly the rows of the unsharded walk")
    func shardsMergeToTheWholeWalk() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.io])
        let whole = try walk.walk(jobs: 2)
        #expect(whole.scenarios.count == whole.scenarioCount)
        #expect(whole.scenarioCount > 10, "the I/O phase has calls to fail: \(whole.scenarioCount)")
        var parts: [(name: String, report: FaultWalkReport)] = []
        for k in 1...3 {
            let shard = try #require(FaultWalkShard(index: k, count: 3))
            let part = try walk.walk(shard: shard, jobs: 2)
            #expect(part.scenarios.allSatisfy { shard.contains($0.index) })
            parts.append(("shard \(k)", part))
        }
        // Given in any order.
        let merged = try FaultWalkReport.merge(parts.reversed())
        #expect(merged == whole)
        #expect(throws: FaultWalkMergeError.self) { try FaultWalkReport.merge(Array(parts.prefix(2))) }
        #expect(throws: FaultWalkMergeError.self) { try FaultWalkReport.merge(parts + [parts[0]]) }
    }

    @Test("A planted guest bug (boot --bug skip-bounce-pool-share) is damaged, its culprit named, and fails the walk")
    func plantedGuestBug() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.io], bugs: [.skipBouncePoolShare])
        let baseline = try walk.baseline()
        #expect(baseline.row.outcome == .damaged)
        #expect(
            baseline.row.diagnosis.contains { $0.contains("the SWIOTLB pool was never shared") }, "\(baseline.row.diagnosis)")
        #expect(baseline.row.fails, "no Linux rule explains a guest bug")
        // The last kick (the read's) fails: the write has already bounced through the
        // unshared pool by then.
        let scenario = try #require(baseline.scenarios.last { $0.site.call.opcode == .hypercall(.vioSignal) })
        let row = walk.run(scenario)
        #expect(row.outcome == .damaged)
        #expect(row.diagnosis.contains { $0.contains("the SWIOTLB pool was never shared") }, "\(row.diagnosis)")
    }

    @Test("An inconsistency planted in SVMKit's bookkeeping by a test double is invariant-broken and listed first")
    func plantedInconsistency() throws {
        // The double marks a kernel page shared behind everyone's back: the Ultravisor's
        // table then disagrees with the guest's ledger, which nothing in Linux explains.
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.io]) { phase, vm in
            guard phase == .io else { return }
            let frame = vm.image.kernelBase.frame.rawValue
            vm.machine.memory.editPages { $0.setState(.shared, frames: frame..<(frame + 1)) }
        }
        let baseline = try walk.baseline()
        #expect(baseline.row.outcome == .invariantBroken, "\(baseline.row.diagnosis)")
        #expect(baseline.row.diagnosis.first?.hasPrefix("after io: ") == true, "\(baseline.row.diagnosis)")
        let report = try walk.walk(shard: FaultWalkShard(index: 1, count: 4), jobs: 2)
        #expect(report.fails)
        #expect(report.scenarios.first?.outcome == .invariantBroken)
        #expect(report.scenarios.allSatisfy { $0.outcome == .invariantBroken && $0.explainedBy == nil })
    }

    /// What Linux does when `UV_ESM` fails: `arch/powerpc/kernel/prom_init.c:
    /// setup_secure_guest (6.12)` prints the status and calls
    /// `prom_rtas_os_term("Switch to secure mode failed.\n")`.
    @Test("UV_ESM answering U_RETRY: terminated by os-term, as prom_init's setup_secure_guest does")
    func esmFailureTerminates() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.boot])
        let s = try FaultWalkFixture.scenario(walk, status: "U_RETRY") { $0.call.opcode == .ultracall(.enterSecureMode) }
        let row = walk.run(s)
        #expect(row.outcome == .terminated)
        #expect(row.diagnosis.first == "os-term \"Switch to secure mode failed.\"")
        #expect(row.explainedBy == "UV_ESM failed: os-term")
    }

    /// `kernel/dma/swiotlb.c: swiotlb_update_mem_attributes (6.12)` ignores
    /// `set_memory_decrypted()`'s return: the pool stays private while Linux bounces
    /// through it; the walk reports the ledger/Ultravisor mismatch as damage.
    @Test("The SWIOTLB pool's UV_SHARE_PAGE answering U_P2: damaged, the ignored status named, as Linux ignores it")
    func swiotlbShareIgnored() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.boot])
        let s = try FaultWalkFixture.scenario(walk, status: "U_P2") {
            $0.call.opcode == .ultracall(.sharePage) && $0.call.caller == .guest && $0.call.arguments.last == 1024
        }
        let row = walk.run(s)
        #expect(row.outcome == .damaged)
        #expect(row.diagnosis.contains { $0.contains("swiotlb_update_mem_attributes ignored UV_SHARE_PAGE's U_P2") })
        #expect(row.explainedBy != nil, "\(row.diagnosis)")
    }

    /// `arch/powerpc/kernel/paca.c: alloc_shared_lppaca (6.12)` ignores
    /// `uv_share_page()`'s return. `H_REGISTER_VPA` then makes KVM page the LPPACA out
    /// and the hypervisor writes into its ciphertext: damage, not an SVMKit
    /// inconsistency. The walk found the invariant checker calling that page-out "not
    /// ciphertext" (a false invariant failure); this guards the fix.
    @Test("A failed page-in inside the LPPACA share: damaged (Linux ignores the share's status), no invariant broken")
    func lppacaShareIgnored() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.configuration, phases: [.boot])
        let s = try FaultWalkFixture.scenario(walk, status: "U_P2") {
            $0.call.opcode == .ultracall(.pageIn) && $0.call.context == ["UV_SHARE_PAGE#1", "H_SVM_PAGE_IN"]
        }
        let row = walk.run(s)
        #expect(row.outcome == .damaged, "\(row.diagnosis)")
        #expect(row.diagnosis.contains { $0.contains("alloc_shared_lppaca ignored UV_SHARE_PAGE's U_P2") })
        #expect(row.explainedBy != nil, "\(row.diagnosis)")
    }

    /// `arch/powerpc/kexec/core_64.c: default_machine_kexec (6.12)` calls
    /// `uv_unshare_all_pages()` and ignores its return: the next kernel inherits the
    /// shares and the walk names the ignored status.
    @Test("kexec's UV_UNSHARE_ALL_PAGES answering U_STATE: damaged, as default_machine_kexec ignores it")
    func unshareAllIgnored() throws {
        let walk = FaultWalk(configuration: FaultWalkFixture.oneCPU, phases: [.kexec])
        let s = try FaultWalkFixture.scenario(walk, status: "U_STATE") { $0.call.opcode == .ultracall(.unshareAllPages) }
        let row = walk.run(s)
        #expect(row.outcome == .damaged, "\(row.diagnosis)")
        #expect(row.diagnosis.contains { $0.contains("UV_UNSHARE_ALL_PAGES") }, "\(row.diagnosis)")
    }

    @Test("Shards: K/N parses only with 1 ≤ K ≤ N, and every scenario is in exactly one shard")
    func shardSlices() throws {
        #expect(FaultWalkShard("0/4") == nil)
        #expect(FaultWalkShard("5/4") == nil)
        #expect(FaultWalkShard("1/0") == nil)
        #expect(FaultWalkShard("x/4") == nil)
        let shards = (1...4).compactMap { FaultWalkShard(index: $0, count: 4) }
        for i in 0..<100 { #expect(shards.filter { $0.contains(i) }.count == 1) }
    }
}
