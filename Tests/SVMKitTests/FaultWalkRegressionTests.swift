import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Testing

@testable import SVMKit

/// What the fault walk found in `SecureVirtualMachine`'s reporting, each fixed; a
/// regression test apiece.
@Suite("Fault walk findings, fixed")
struct FaultWalkRegressionTests {
    static func vm(_ spec: String) throws -> SecureVirtualMachine {
        try SecureVirtualMachine(configuration: FaultWalkFixture.configuration, faults: try FaultSpecParser.parse(spec))
    }

    /// The pool's share is the guest's third (link order: LPPACA region, DTL page,
    /// then init_svm's pool). Linux ignores its U_P2 (`svm.c: set_memory_decrypted
    /// (6.12)`); this test used to expect SVMKit's own "could not share" fault, and now
    /// expects the diagnosis of the ignored status, carried past the kexec.
    @Test("A failure the first kernel reported is still reported after a normal kexec (it was lost)")
    func faultsSurviveKexec() throws {
        let vm = try Self.vm("guest:UV_SHARE_PAGE@3=U_P2")
        let boot = vm.boot()
        #expect(
            boot.guestFaults.contains {
                $0.contains("swiotlb_update_mem_attributes ignored UV_SHARE_PAGE's U_P2, as Linux does: 1024 page(s)")
            }, "\(boot.guestFaults)")
        let after = vm.kexec(.normal)
        #expect(vm.kernel?.faults.isEmpty == true, "the next kernel shared its pool")
        #expect(after.guestFaults.contains { $0.hasPrefix("before kexec (normal): ignored status") }, "\(after.guestFaults)")
        #expect(!after.endedAsRequested)
    }

    @Test("A vCPU that start-cpu could not bring up is reported (the boot counted as ended as requested)")
    func stuckProcessor() throws {
        let vm = try Self.vm("guest:H_RTAS@1=H_HARDWARE")
        let r = vm.boot()
        #expect(r.kernelLog.contains { $0.contains("Processor 1 is stuck.") })
        #expect(r.guestFaults == ["vCPU 1 is not running: the kernel could not start it (Processor 1 is stuck.)"])
        #expect(!r.endedAsRequested)
        #expect(!vm.kexec(.normal).endedAsRequested, "still reported after the next kernel started it")
    }

    /// This guarded "no next kernel on a dead partition" when a failed page-in killed
    /// the SVM here. The firmware's `page_unshare_all_with_hv()` does not `svm_abort`
    /// on a hypervisor failure: it stops with the pages before unshared (issue 15 item
    /// 5), so the SVM lives and the next kernel starts on it.
    @Test("A failed H_SVM_PAGE_IN in kexec's UV_UNSHARE_ALL_PAGES stops it part way; the SVM lives and the next kernel starts")
    func noKernelAfterKill() throws {
        // The first page-in of UV_UNSHARE_ALL_PAGES comes after every page-in of the boot
        // (UV_ESM's and one per page the guest shared). The count is measured on a clean
        // boot: it used to be written in (1057), and the LPPACA region's size (NR_CPUS,
        // paca.c: alloc_shared_lppaca (6.12)) changed it.
        let probe = try SecureVirtualMachine(configuration: FaultWalkFixture.configuration)
        _ = probe.boot()
        let bootPageIns = probe.machine.trace.count(of: "H_SVM_PAGE_IN")
        let vm = try Self.vm("uv:H_SVM_PAGE_IN@\(bootPageIns + 1)=H_PARAMETER")
        _ = vm.boot()
        let before = try #require(vm.kernel)
        let shared = vm.machine.memory.frames(where: \.isExplicitShare).count
        let r = vm.kexec(.normal)
        #expect(vm.machine.stopReason == nil)
        #expect(r.stopReason == nil)
        #expect(vm.kernel !== before, "the next kernel started")
        let unshareAll = try #require(vm.machine.trace.records.first { $0.name == "UV_UNSHARE_ALL_PAGES" })
        #expect(unshareAll.notes.contains { $0.contains("SVM not aborted") })
        #expect(unshareAll.statusName == "U_STATE")
        #expect(shared > 0)
    }
}
