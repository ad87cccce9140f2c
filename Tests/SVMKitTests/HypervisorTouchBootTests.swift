import Foundation
import PEFMachine
import PowerABI
import SecureGuest
import Testing

@testable import SVMKit

/// Issue 15 items 1, 2 and 7 through the façade: the hypervisor's access to a
/// secure page behaves as on KVM (`book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram`,
/// 6.12), the damage shows later, and the report's `diagnoses` explain it.
@Suite("The hypervisor touching secure memory, end to end")
struct HypervisorTouchBootTests {
    static func vm(touch: HypervisorTouch = .pageOut, _ change: (inout BootConfiguration) -> Void = { _ in })
        throws -> SecureVirtualMachine
    {
        var c = FaultWalk.configuration
        c.hypervisorTouch = touch
        change(&c)
        return try SecureVirtualMachine(configuration: c)
    }

    /// The pattern `exerciseBlockDevice` writes.
    static func pattern(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) } }

    @Test("A pool that was never shared: the disk gets ciphertext, the diagnosis names the pool, paging back in is U_P3")
    func ciphertextPath() throws {
        let vm = try Self.vm()
        _ = vm.boot(bugs: [.skipBouncePoolShare])
        let check = vm.exerciseBlockDevice(bytes: 4096)
        let report = vm.report()
        // The disk holds bytes that are not the plaintext (the bounce page's ciphertext).
        let disk = try #require(vm.hypervisor.blockDevice(unitAddress: VirtualBlockDevice.defaultUnitAddress))
        let written = disk.contents(sector: 0, byteCount: 4096)
        #expect(written != Self.pattern(4096))
        #expect(check.corrupted && !check.passed)
        #expect(report.blockDeviceCheck?.corrupted == true)
        // The hypervisor's access went through UV_PAGE_OUT (counted) and is recorded.
        #expect((report.calls["UV_PAGE_OUT"] ?? 0) >= 1)
        #expect(report.isolationViolations >= 1)
        // The diagnosis: owner, first consequence, likely cause.
        let d = try #require(report.diagnoses.first)
        #expect(d.owner == "swiotlb")
        #expect(d.consequence.contains("block write") && d.consequence.contains("ciphertext"))
        #expect(d.cause.hasPrefix("the SWIOTLB pool was never shared"))
        #expect(d.handling == "page-out")
        // The device wrote the read-back into the page it holds: when the guest copies
        // it out of the pool, UV_PAGE_IN finds the tampering (core/svm_host.c:
        // __handle_page_in → U_P3).
        #expect(vm.machine.trace.records.contains { $0.name == "UV_PAGE_IN" && $0.statusName == "U_P3" })
        #expect(d.pagedBackIn?.contains("U_P3") == true)
        #expect(!report.endedAsRequested)
    }

    @Test("--hv-touch stop: the device's access fails at once, nothing reaches the disk, the same diagnosis")
    func stopMode() throws {
        let vm = try Self.vm(touch: .stop)
        _ = vm.boot(bugs: [.skipBouncePoolShare])
        let check = vm.exerciseBlockDevice(bytes: 4096)
        let report = vm.report()
        #expect(!check.passed && !check.corrupted)
        #expect(report.calls["UV_PAGE_OUT"] == nil)
        #expect(report.isolationViolations >= 1)
        let d = try #require(report.diagnoses.first)
        #expect(d.owner == "swiotlb" && d.handling == "stop")
        #expect(d.cause.hasPrefix("the SWIOTLB pool was never shared"))
    }

    /// Every `--bug` shows its real symptom plus, where the hypervisor touched secure
    /// memory, a diagnosis naming the owner.
    @Test("Each bug: its symptom and its diagnosis", arguments: GuestBug.allCases)
    func everyBug(bug: GuestBug) throws {
        let vm = try Self.vm()
        var report = vm.boot(bugs: [bug])
        if bug.needsDMA {
            vm.exerciseBlockDevice()
            report = vm.report()
        }
        #expect(!report.endedAsRequested)
        #expect(
            !vm.invariantViolations().contains { $0.kind == .pageOutNotCiphertext },
            "\(bug): a page-out the hypervisor stored into is no SVMKit inconsistency")
        let owners: [GuestBug: String] = [
            .skipLPPACAShare: "lppaca", .skipDTLShare: "dtl", .skipBouncePoolShare: "swiotlb",
            .unshareBouncePageWhileMapped: "swiotlb", .touchImplicitPage: "ultravisor-implicit",
            .doubleUnmap: "swiotlb", .syncPastMappingEnd: "swiotlb",
        ]
        let d = try #require(report.diagnoses.first, "\(bug)")
        #expect(d.owner == owners[bug])
        #expect(!d.consequence.isEmpty && !d.cause.isEmpty)
        let touches: Set<GuestBug> = [.skipLPPACAShare, .skipDTLShare, .skipBouncePoolShare, .unshareBouncePageWhileMapped]
        #expect(d.handling == (touches.contains(bug) ? "page-out" : nil), "\(bug)")
        switch bug {
        case .skipBouncePoolShare, .unshareBouncePageWhileMapped:
            #expect(report.blockDeviceCheck?.corrupted == true, "the disk got ciphertext")
        case .skipLPPACAShare, .skipDTLShare:
            #expect(report.diagnoses.first?.consequence.contains("H_REGISTER_VPA") == true)
        case .touchImplicitPage:
            #expect(report.stopReason?.contains("SVM killed") == true)
            #expect(d.cause.contains("svm_e00_handle"))
        case .doubleUnmap, .syncPastMappingEnd:
            #expect(report.guestFaults.contains { $0.hasPrefix("SWIOTLB misuse") })
            #expect(d.consequence.hasPrefix("SWIOTLB refused"))
        }
    }

    @Test("boot --json keeps its keys and gains diagnoses with owner, consequence and cause")
    func jsonKeys() throws {
        let vm = try Self.vm()
        _ = vm.boot(bugs: [.skipLPPACAShare])
        let data = try JSONEncoder().encode(vm.report())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["secure", "esmResult", "osTerm", "esmChecks", "sharedPages", "isolationViolations", "calls",
            "simulatedSeconds", "wallSeconds", "blockDeviceCheck", "diagnoses"]
        {
            #expect(object.keys.contains(key), "\(key)")
        }
        let first = try #require((object["diagnoses"] as? [[String: Any]])?.first)
        #expect(first["owner"] as? String == "lppaca")
        #expect(first["consequence"] is String && first["cause"] is String)
        #expect((object["calls"] as? [String: Int])?["UV_PAGE_OUT"] == 1)
    }

    /// Item 2: H_SVM_INIT_DONE makes no UV_PAGE_IN (kvmppc_uv_migrate_mem_slot,
    /// pagein=false): every UV_PAGE_IN answers an H_SVM_PAGE_IN.
    @Test("A secure boot makes one UV_PAGE_IN per H_SVM_PAGE_IN and none at H_SVM_INIT_DONE")
    func initDoneTrace() throws {
        let vm = try Self.vm()
        let r = vm.boot()
        #expect(r.secure)
        #expect(r.calls["UV_PAGE_IN"] == r.calls["H_SVM_PAGE_IN"])
        let records = vm.machine.trace.records
        let done = try #require(records.firstIndex { $0.name == "H_SVM_INIT_DONE" })
        #expect(records[done + 1].name != "UV_PAGE_IN" || records[done + 1].depth <= records[done].depth)
        #expect(vm.machine.memory.pageCount(in: .normal) == 0, "every page of the slots is secure")
    }

    /// Item 7: --esm-check defaults to warn under open-power (ESM_BLOB_CHK_WARN_ONLY)
    /// and enforce under documented; an explicit value wins.
    @Test("open-power boots on past a failed ESM check; documented aborts; explicit --esm-check wins")
    func esmCheckDefaults() throws {
        var c = FaultWalk.abortConfiguration
        #expect(c.effectiveESMCheckPolicy == .enforce)
        c.firmware = .openPower
        #expect(c.effectiveESMCheckPolicy == .warn)
        let open = try SecureVirtualMachine(configuration: c).boot()
        #expect(open.secure && open.osTerm == nil, "CONTINUING INSPITE OF ESM CHECK FAILURE")
        #expect(open.esmChecks.contains { !$0.passed })
        c.esmCheckPolicy = .enforce
        let enforced = try SecureVirtualMachine(configuration: c).boot()
        #expect(!enforced.secure && enforced.esmResult == -4)
        let documented = try SecureVirtualMachine(configuration: FaultWalk.abortConfiguration).boot()
        #expect(!documented.secure && documented.esmResult == -4)
    }
    /// The public firmware leaves r3 at the ultracall number after `UV_SHARE_PAGE`,
    /// `UV_UNSHARE_PAGE` and `UV_UNSHARE_ALL_PAGES` (`core/uvcall.c: uv_switch_page`,
    /// `uv_unshare_all_pages`, `ctx_end_context`): that is no status. Before the fix the
    /// ledger noted 1,057 "ignored statuses" on a clean open-power boot, and a normal
    /// kexec's leftover shares were taken for the consequence of a failed unshare-all, so
    /// the invariant that no share survives a normal kexec was never checked.
    @Test("open-power: r3 = the ultracall number is no status; a normal kexec leaves no finding")
    func openPowerUltracallNumberIsNoStatus() throws {
        let vm = try Self.vm { $0.firmware = .openPower }
        let boot = vm.boot()
        #expect(boot.secure)
        let kernel = try #require(vm.kernel)
        #expect(kernel.audit().ignoredStatuses == 0, "\(kernel.audit())")
        #expect(vm.linuxFindings().isEmpty)
        let after = vm.kexec(.normal)
        #expect(after.kexec?.contains("UV_UNSHARE_ALL_PAGES") == true)
        #expect(vm.checkInvariants() == [], "\(after)")
        #expect(vm.linuxFindings().isEmpty)
    }
}
