import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// Issue 15 items 1–3 on the hypervisor side, against `arch/powerpc/kvm/book3s_hv_uvmem.c`
/// (6.12): `kvmppc_h_svm_init_done`, `kvmppc_h_svm_init_start`/`_abort`,
/// `kvmppc_uvmem_migrate_to_ram`.
@Suite struct KVMSecureGuestFidelityTests {
    /// kvmppc_uv_migrate_mem_slot() pages nothing in: kvmppc_svm_page_in(…, pagein=false).
    @Test func initDoneMakesNoUltracallAndEveryPageIsSecure() throws {
        let t = try TestMachine()
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .success)
        let start = t.machine.trace.records.count
        #expect(t.ultravisor.finishInitialization(t.context()) == .success)
        let names = t.machine.trace.records[start...].map(\.name)
        #expect(names == ["H_SVM_INIT_DONE"], "no UV_PAGE_IN under H_SVM_INIT_DONE")
        #expect(t.memory.pageCountsByState == [.secure: t.memory.pageCount])
        #expect(t.hypervisor.pageView.secure == t.memory.pageCount)
        #expect(t.hypervisor.phase == .secure)
    }

    /// kvmppc_h_svm_init_start(): KVMPPC_SECURE_INIT_START is set first, then
    /// `!svm_enabled` → H_AUTHORITY; H_SVM_INIT_ABORT then answers H_PARAMETER and
    /// calls uv_svm_terminate().
    @Test func initStartWithoutSecureModeIsAuthorityAndAbortTerminates() throws {
        let t = try TestMachine(hypervisor: HypervisorConfiguration(secureModeEnabled: false))
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .authority)
        #expect(t.ultravisor.memorySlots(of: 1).isEmpty, "no UV_REGISTER_MEM_SLOT")
        #expect(t.hypervisor.phase == .initializing, "the start is recorded before the check")
        let abort = t.machine.hypercall(.svmInitAbort, [], from: .ultravisor(vcpu: 0), depth: 1)
        #expect(abort.hypervisorStatus == .parameter)
        #expect(t.machine.trace.records.last?.name == "UV_SVM_TERMINATE")
        #expect(t.hypervisor.phase == .normal)
        // A second abort finds no start: H_UNSUPPORTED.
        #expect(t.machine.hypercall(.svmInitAbort, [], from: .ultravisor(vcpu: 0), depth: 1).hypervisorStatus == .unsupported)
    }

    /// `!kvm_is_radix(kvm)` → H_UNSUPPORTED, after the start flag is set.
    @Test func initStartForAHashGuestIsUnsupported() throws {
        let t = try TestMachine(hypervisor: HypervisorConfiguration(radix: false))
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .unsupported)
        #expect(t.hypervisor.phase == .initializing)
    }

    /// An injected H_SVM_INIT_START failure takes the handler's real path: the start
    /// is recorded, then the status returned (so --faults shows what hardware would).
    @Test func anInjectedStartFailureLeavesTheStartRecorded() throws {
        let rule = FaultRule(opcode: .hypercall(.svmInitStart), trigger: .nth(1), action: .status(HypervisorStatus.state.rawValue))
        let t = try TestMachine(faults: [rule])
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .state)
        #expect(t.hypervisor.phase == .initializing)
        #expect(t.machine.hypercall(.svmInitAbort, [], from: .ultravisor(vcpu: 0), depth: 1).hypervisorStatus == .parameter)
    }

    /// kvmppc_uvmem_migrate_to_ram(): the hypervisor's access to a secure page is a
    /// UV_PAGE_OUT through the router (counted in the trace) and reads ciphertext;
    /// its write then makes the guest's next touch fail authentication (U_P3,
    /// core/svm_host.c: __handle_page_in).
    @Test func touchingASecurePageIsAPageOutAndAWriteIsTampering() throws {
        let t = try TestMachine()
        t.makeSecure()
        let secret = (0..<Int(page)).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ 1) }
        try t.boot.write(at: .gpa(9 * page), bytes: secret)
        let seen = try t.memory.read(.hypervisor, at: .gpa(9 * page), count: Int(page), purpose: "snoop")
        #expect(seen != secret)
        #expect(t.machine.trace.count(of: "UV_PAGE_OUT") == 1)
        #expect(t.memory.violationCount == 1)
        #expect(t.memory.violations.first?.handling == .pageOut)
        // Untouched, it comes back intact.
        #expect(try t.boot.read(at: .gpa(9 * page), count: Int(page)) == secret)
        // Touched again and written: the guest's next read cannot complete.
        try t.memory.write(.hypervisor, at: .gpa(9 * page + 100), bytes: [0xFF], purpose: "scribble")
        #expect(t.memory.violationCount == 2)
        #expect(throws: MemoryAccessError.self) { _ = try t.boot.read(at: .gpa(9 * page), count: 8) }
        #expect(t.machine.trace.records.contains { $0.name == "UV_PAGE_IN" && $0.statusName == "U_P3" })
    }

    /// `--hv-touch stop`: the debugging mode fails the access at once, no page-out.
    @Test func stopModeFailsTheAccess() throws {
        let t = try TestMachine(hypervisorTouch: .stop)
        t.makeSecure()
        #expect(throws: MemoryAccessError.self) { _ = try t.memory.read(.hypervisor, at: .gpa(9 * page), count: 8) }
        #expect(t.machine.trace.count(of: "UV_PAGE_OUT") == 0)
        #expect(t.memory.violations.first?.handling == .stop)
        #expect(t.memory.state(of: GuestFrameNumber(9)) == .secure)
    }
}
