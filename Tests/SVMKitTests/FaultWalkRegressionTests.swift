import Foundation
import PEFMachine
import PowerABI
import SecureGuest
import Testing

@testable import SVMKit

/// What the fault walk found in `SecureVirtualMachine`'s reporting, each fixed; a
/// regression test apiece.
@Suite("Fault walk findings, fixed")
struct FaultWalkRegressionTests {
    static func vm(_ spec: String) throws -> SecureVirtualMachine {
        try SecureVirtualMachine(configuration: FaultWalk.configuration, faults: try FaultSpecParser.parse(spec))
    }

    @Test("A failure the first kernel reported is still reported after a normal kexec (it was lost)")
    func faultsSurviveKexec() throws {
        let vm = try Self.vm("guest:UV_SHARE_PAGE@2=U_P2")
        let boot = vm.boot()
        #expect(boot.guestFaults.contains { $0.contains("swiotlb_update_mem_attributes could not share 1024 page(s)") })
        let after = vm.kexec(.normal)
        #expect(vm.kernel?.faults.isEmpty == true, "the next kernel shared its pool")
        #expect(after.guestFaults.contains { $0.hasPrefix("before kexec (normal): share failed") }, "\(after.guestFaults)")
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
        // The first page-in of UV_UNSHARE_ALL_PAGES: 30 during UV_ESM and 1026 for the shares come first.
        let vm = try Self.vm("uv:H_SVM_PAGE_IN@1057=H_PARAMETER")
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
