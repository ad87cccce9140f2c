import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

@Suite struct SecureGuestHypercallTests {
    @Test func svmHypercallsNeedTheUltravisor() throws {
        let t = try TestMachine()
        for h in [Hypercall.svmInitStart, .svmInitDone, .svmInitAbort, .svmPageIn, .svmPageOut] {
            #expect(HypervisorStatus(register: t.boot.hypercall(h, [0, 0, 16]).r3) == .unsupported, "\(h)")
        }
        #expect(t.ultravisor.memorySlots(of: 1).isEmpty)
    }

    @Test func pageInArgumentChecks() throws {
        let t = try TestMachine()
        _ = t.ultravisor.createSVM(lpid: 1, on: t.machine)
        #expect(t.ultravisor.startInitialization(t.context()) == .success)
        let uv = Caller.ultravisor(vcpu: 0)
        func pageIn(_ args: [UInt64]) -> HypervisorStatus { t.machine.hypercall(.svmPageIn, args, from: uv, depth: 1).hypervisorStatus }
        #expect(pageIn([page, 0, 12]) == .p3)
        #expect(pageIn([page, 2, 16]) == .p2)
        #expect(pageIn([1 << 40, 0, 16]) == .parameter)
        #expect(pageIn([page, 0, 16]) == .success)
        // Before the SVM is secure the Ultravisor just copies again (§2.4)...
        #expect(pageIn([page, 0, 16]) == .success)
        // ...after it, a page-in of a secure page is refused (U_P2 → H_PARAMETER).
        #expect(t.ultravisor.finishInitialization(t.context()) == .success)
        var call = t.esmCall()
        t.ultravisor.commit(t.context(), call: &call, entry: 0, registers: [:])
        #expect(pageIn([page, 0, 16]) == .parameter)
    }

    @Test func pageOutArgumentChecks() throws {
        let t = try TestMachine()
        t.makeSecure()
        let uv = Caller.ultravisor(vcpu: 0)
        func pageOut(_ args: [UInt64]) -> HypervisorStatus {
            t.machine.hypercall(.svmPageOut, args, from: uv, depth: 1).hypervisorStatus
        }
        #expect(pageOut([3 * page, 0, 12]) == .p3)
        #expect(pageOut([3 * page, 1, 16]) == .p2)
        #expect(pageOut([1 << 40, 0, 16]) == .parameter)
        #expect(pageOut([3 * page, 0, 16]) == .success)
        #expect(t.memory.state(of: GuestFrameNumber(3)) == .pagedOut)
        #expect(t.hypervisor.pageView.pagedOut == 1)
        #expect(pageOut([3 * page, 0, 16]) == .parameter, "UV_PAGE_OUT refuses a page that is not SECURE")
        #expect(t.machine.hostMemory.allocatedPageCount == 1, "the refused attempt's pool page was freed")
    }

    @Test func consoleOutputIsCapturedFromNormalAndSecureGuests() throws {
        let t = try TestMachine()
        func put(_ text: String) {
            let bytes = Array(text.utf8)
            var words: [UInt64] = [0, 0]
            for (i, b) in bytes.enumerated() { words[i / 8] |= UInt64(b) << (8 * (7 - UInt64(i % 8))) }
            t.boot.hypercall(.putTermChar, [0, UInt64(bytes.count), words[0], words[1]])
        }
        put("Linux version ")
        t.makeSecure()
        put("secure!\n")
        #expect(t.hypervisor.consoleOutput == "Linux version secure!\n")
        #expect(HypervisorStatus(register: t.boot.hypercall(.putTermChar, [0, 17, 0, 0]).r3) == .parameter)
        t.hypervisor.queueConsoleInput(Array("y\n".utf8))
        let r = t.boot.hypercall(.getTermChar, [0])
        #expect(r[4] == 2)
        #expect(r[5] >> 48 == 0x790A)
    }

    @Test func scTwoOnAMachineWithoutPEFFailsInTheHypervisor() throws {
        let t = try TestMachine(pef: false)
        let r3 = t.boot.ultracall(.enterSecureMode, [0x40_0000, 0x100_0000]).r3
        #expect(HypervisorStatus(register: r3) == .function)
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
    }
}
