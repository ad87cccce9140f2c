import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The building blocks of UV_ESM (reference/ultravisor-facts.md §2).
@Suite struct SecureBootStepsTests {
    @Test func createSVMTwiceGivesURetry() throws {
        let t = try TestMachine()
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.lifecycle(of: 1) == .created)
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .retry)
        t.ultravisor.destroySVM(lpid: 1)
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
    }

    @Test func initStartRegistersTheMemorySlots() throws {
        let t = try TestMachine(hypervisor: HypervisorConfiguration(memorySlotBytes: 16 << 20))
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .success)
        #expect(t.ultravisor.lifecycle(of: 1) == .initializing)
        #expect(t.ultravisor.memorySlots(of: 1).map(\.size) == [16 << 20, 16 << 20, 16 << 20, 16 << 20])
        #expect(t.hypervisor.phase == .initializing)
        let names = t.machine.trace.records.map(\.name)
        #expect(names == ["H_SVM_INIT_START"] + Array(repeating: "UV_REGISTER_MEM_SLOT", count: 4))
        // A second start is not refused: kvmppc_h_svm_init_start (6.12) has no H_STATE
        // check; it sets the start flag again and registers the slots again.
        #expect(t.ultravisor.startInitialization(t.context()) == .success)
        #expect(t.machine.trace.count(of: "UV_REGISTER_MEM_SLOT") == 8)
    }

    @Test func pageInSkipsWhatIsAlreadyInAndCopiesNothing() throws {
        let t = try TestMachine()
        try t.memory.write(.hypervisor, at: .gpa(3 * page + 5), bytes: [7, 7, 7])
        _ = t.ultravisor.createSVM(lpid: 1, on: t.machine)
        _ = t.ultravisor.startInitialization(t.context())
        let resident = t.memory.residentBytes()
        var notes: [String] = []
        let start = t.machine.trace.records.count
        #expect(t.ultravisor.pageIn(t.context(), address: .gpa(2 * page + 100), length: 3 * page, notes: &notes))
        // Frames 2, 3, 4 and 5 (the range ends inside frame 5).
        let pageIns = t.machine.trace.records.filter { $0.sequence >= start && $0.name == "H_SVM_PAGE_IN" }
        #expect(pageIns.map { $0.arguments[0] } == [2, 3, 4, 5].map { $0 * page })
        #expect(pageIns.allSatisfy { $0.arguments[1] == Hypercall.pageInNonShared && $0.arguments[2] == 16 })
        #expect(t.memory.states(of: 2..<6) == [.secure, .secure, .secure, .secure])
        #expect(t.ultravisor.trackedPageIns(of: 1) == 4)
        // The bytes are the ones the guest had: paged in without copying.
        #expect(try t.memory.read(.ultravisor, at: .gpa(3 * page + 5), count: 3) == [7, 7, 7])
        #expect(t.memory.residentBytes() == resident)
        // A second page-in of an overlapping range only asks for the new frames.
        let again = t.machine.trace.records.count
        #expect(t.ultravisor.pageIn(t.context(), address: .gpa(5 * page), length: 2 * page, notes: &notes))
        #expect(t.machine.trace.records.filter { $0.sequence >= again && $0.name == "H_SVM_PAGE_IN" }.map { $0.arguments[0] } == [6 * page])
        // Failures: zero length, outside the slots.
        #expect(!t.ultravisor.pageIn(t.context(), address: .gpa(0), length: 0, notes: &notes))
        #expect(!t.ultravisor.pageIn(t.context(), address: .gpa(t.memory.byteCount - page), length: 2 * page, notes: &notes))
        #expect(notes.count == 2)
    }

    @Test func abortLeavesNothingSharedAndTheGuestNormal() throws {
        let t = try TestMachine()
        let kernel = Array("kernel image".utf8)
        try t.memory.write(.hypervisor, at: .gpa(0x40_0000), bytes: kernel)
        let ctx = t.context()
        var notes: [String] = []
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(ctx) == .success)
        #expect(t.ultravisor.pageIn(ctx, address: .gpa(0x40_0000), length: 4 * page, notes: &notes))
        #expect(t.ultravisor.share(ctx, frames: 1000..<1006, kind: .implicit, notes: &notes) == .success)
        #expect(t.ultravisor.share(ctx, frames: 1010..<1011, kind: .pseudo, notes: &notes) == .success)
        #expect(t.memory.pageCount(in: .sharedImplicit) == 6)
        var call = t.esmCall()
        t.ultravisor.abortInitialization(ctx, call: &call)
        // The guest sees H_PARAMETER as its UV_ESM result and resumes after its sc 2.
        #expect(HypervisorStatus(register: call.registers.r3) == .parameter)
        #expect(call.resume == nil)
        #expect(!t.boot.isSecure)
        // Nothing shared, nothing secure: every page is the hypervisor's again.
        #expect(t.memory.pageCountsByState == [.normal: t.memory.pageCount])
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
        #expect(t.ultravisor.terminatedLPIDs == [1])
        #expect(t.hypervisor.phase == .normal)
        #expect(t.hypervisor.pageView == (0, 0, 0))
        #expect(t.machine.hostMemory.allocatedPageCount == 0)
        // The guest's memory is intact (it needs it to report the failure).
        #expect(try t.memory.read(.hypervisor, at: .gpa(0x40_0000), count: kernel.count) == kernel)
        #expect(!t.machine.isStopped)
        // The trace shows the documented sequence.
        let names = t.machine.trace.records.map(\.name)
        let abort = try #require(names.firstIndex(of: "H_SVM_INIT_ABORT"))
        #expect(names[(abort + 1)...].filter { $0 == "UV_PAGE_OUT" }.count == 4)
        #expect(names.last == "UV_SVM_TERMINATE")
        // And it can try again.
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
    }

    @Test func abortAfterSecureIsRefused() throws {
        let t = try TestMachine()
        t.makeSecure()
        var call = t.esmCall()
        t.ultravisor.abortInitialization(t.context(), call: &call)
        #expect(HypervisorStatus(register: call.registers.r3) == .state)
    }

    @Test func commitMakesTheVCPUSecureAtTheEntryPoint() throws {
        let t = try TestMachine()
        let call = t.makeSecure()
        #expect(call.resume?.pc == 0x40_0000)
        let msr = try #require(call.resume?.msr)
        #expect(msr.contains(.secure))
        #expect(!msr.contains(.hypervisor) && !msr.contains(.externalInterrupts))
        #expect(call.registers.r3 == 0x100_0000 && call.registers[4] == 0x40_0000 && call.registers[5] == 0)
        #expect(t.ultravisor.lifecycle(of: 1) == .secure)
        #expect(t.ultravisor.trackedPageIns(of: 1) == 0)
        // H_SVM_INIT_DONE paged in every page the Ultravisor had not asked for.
        #expect(t.memory.pageCount(in: .secure) == t.memory.pageCount)
        #expect(t.hypervisor.phase == .secure)
        #expect(t.memory.residentBytes() == 0, "untouched pages were paged in without copying")
    }

    @Test func svmTerminateOfASecureSVMStopsThePartition() throws {
        let t = try TestMachine()
        t.makeSecure()
        try t.boot.write(at: .gpa(page), bytes: [1, 2, 3])
        #expect(t.machine.ultracall(.terminateSVM, [1], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        #expect(t.machine.isStopped)
        // Secure memory is scrubbed before the hypervisor gets it back.
        #expect(try t.memory.read(.hypervisor, at: .gpa(page), count: 3) == [0, 0, 0])
        // Terminating an LPID without an SVM is still U_SUCCESS.
        #expect(t.machine.ultracall(.terminateSVM, [7], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
    }

    @Test func initiateKillUsesOSTermFromTheBouncePage() throws {
        let t = try TestMachine()
        t.makeSecure()
        var notes: [String] = []
        let base: UInt64 = 900
        #expect(t.ultravisor.share(t.context(), frames: base..<(base + 6), kind: .implicit, notes: &notes) == .success)
        t.ultravisor.configureRTASBounce(
            lpid: 1, base: .gpa(base * page), tokens: ["ibm,os-term": 0x201F], maximumProcessors: 2)
        t.ultravisor.initiateKill(t.context(), reason: "FDT write-back failed")
        // args[0] = 0: the hypervisor looks for the message at GPA 0, a secure page: as
        // on KVM the page is paged out (kvmppc_uvmem_migrate_to_ram, UV_PAGE_OUT) and the
        // hypervisor reads ciphertext as the message. The access is still recorded.
        guard case .osTerm(_?)? = t.machine.stopReason else {
            Issue.record("expected an os-term with the ciphertext as its message")
            return
        }
        #expect(t.memory.violations.map(\.purpose) == ["ibm,os-term message"])
        #expect(t.memory.violations.map(\.handling) == [.pageOut])
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: 0)) == .pagedOut)
        #expect(t.machine.trace.count(of: "UV_PAGE_OUT") == 1)
        #expect(t.ultravisor.anomalies.isEmpty)
        let rtas = try #require(t.machine.trace.records.last { $0.name == "H_RTAS" })
        #expect(rtas.caller.kind == .ultravisor)
        #expect(rtas.arguments == [base * page])
    }
}
