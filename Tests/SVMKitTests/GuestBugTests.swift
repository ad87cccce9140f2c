import Foundation
@_spi(Firmware) import PEFMachine
import SecureGuest
import Testing

@testable import SVMKit

/// Issue 8 item 4 through the façade, as `svmkit boot --bug` runs it: each buggy guest
/// is caught, its culprit is named in the report, the run does not end as requested,
/// and isolation violations are counted but not held against the invariants.
@Suite("Buggy guests through SecureVirtualMachine")
struct GuestBugTests {
    /// What the report must name for each bug (the culprits `GuestKernel.diagnose()`
    /// and the SWIOTLB library give).
    static let culprits: [GuestBug: String] = [
        .skipLPPACAShare: "alloc_shared_lppaca() did not share it",
        .skipDTLShare: "dtl_cache_ctor() did not share it",
        .skipBouncePoolShare: "swiotlb_update_mem_attributes() did not share it",
        .touchImplicitPage: "the guest touched a page the Ultravisor shared implicitly",
        .unshareBouncePageWhileMapped: "unshared it while the hypervisor still used it",
        .doubleUnmap: "double unmap",
        .syncPastMappingEnd: "past the end of the mapping",
    ]

    @Test("Each bug is caught and its culprit named", arguments: GuestBug.allCases)
    func caught(bug: GuestBug) throws {
        let vm = try SecureVirtualMachine(configuration: FaultWalkFixture.configuration)
        var report = vm.boot(bugs: [bug])
        if bug.needsDMA {
            vm.exerciseBlockDevice()
            report = vm.report()
        }
        let culprit = try #require(Self.culprits[bug])
        #expect(report.guestFaults.contains { $0.contains(culprit) }, "\(report.guestFaults)")
        #expect(!report.endedAsRequested)
        #expect(report.bugs == [bug.rawValue])
        #expect(!report.invariantFailures.contains { $0.hasPrefix("isolation") }, "tolerated for a buggy guest")
        let violates = [GuestBug.skipLPPACAShare, .skipDTLShare, .skipBouncePoolShare, .unshareBouncePageWhileMapped]
        if violates.contains(bug) {
            #expect(report.isolationViolations > 0, "still counted")
            #expect(report.guestFaults.contains { $0.hasPrefix("isolation violation") })
        }
        if bug == .touchImplicitPage { #expect(report.stopReason?.contains("SVM killed") == true) }
    }

    @Test("The same checks on a guest without bugs hold: nothing caught, isolation violations count")
    func noBugs() throws {
        let vm = try SecureVirtualMachine(configuration: FaultWalkFixture.configuration)
        _ = vm.boot()
        #expect(vm.exerciseBlockDevice().passed)
        var report = vm.report()
        #expect(report.endedAsRequested, "\(report.guestFaults) \(report.invariantFailures)")
        _ = try? vm.machine.memory.read(.hypervisor, at: vm.image.kernelBase, count: 8)
        report = vm.report()
        #expect(report.invariantFailures.contains { $0.hasPrefix("isolation") })
    }

    @Test("Bug names are the CLI's, and adding(bugs:memory:) turns each on, with the implicit page to touch")
    func names() {
        #expect(GuestBug.allCases.map(\.rawValue) == [
            "skip-lppaca-share", "skip-dtl-share", "skip-bounce-pool-share", "touch-implicit-page",
            "unshare-bounce-page-while-mapped", "double-unmap", "sync-past-mapping-end",
        ])
        for bug in GuestBug.allCases {
            let memory = try? GuestMemory(byteCount: 1 << 20)
            if let memory { memory.editPages { $0.setState(.sharedImplicit, frame: 3) } }
            let options = memory.map { GuestKernelOptions().adding(bugs: [bug], memory: $0) } ?? GuestKernelOptions()
            #expect(options.bugs == [bug], "\(bug)")
            #expect(options.touchAfterBootAddress == (bug == .touchImplicitPage ? GuestPhysicalAddress(3 << 16) : nil), "\(bug)")
        }
    }
}
