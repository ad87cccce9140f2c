import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// Issue 15 items 5 and 7: sharing as `core/svm_host.c` (open-power/ultravisor HEAD
/// 63669595) implements it, and the `open-power` firmware profile's quirks.
@Suite struct FirmwareSharingFidelityTests {
    static func frame(_ f: UInt64) -> GuestFrameNumber { GuestFrameNumber(rawValue: f) }

    /// page_share_with_hv(): a failed H_SVM_PAGE_IN(SHARED) on the third page reverts
    /// with revert_transient_pages_to_secure(): one H_SVM_PAGE_IN(NONSHARED) per page
    /// already HV_SHARED, then every page secure again; U_P2.
    @Test func aFailedShareRevertsWithOneNonSharedPageInPerHVSharedPage() throws {
        let rule = FaultRule(opcode: .hypercall(.svmPageIn), trigger: .nth(3), action: .status(HypervisorStatus.parameter.rawValue))
        let t = try TestMachine(faults: [rule])
        t.makeSecure()
        let start = t.machine.trace.records.count
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [20, 4]).r3) == .p2)
        let pageIns = t.machine.trace.records[start...].filter { $0.name == "H_SVM_PAGE_IN" }.map { ($0.arguments[0] >> 16, $0.arguments[1]) }
        #expect(pageIns.map(\.0) == [20, 21, 22, 20, 21])
        #expect(pageIns.map(\.1) == [1, 1, 1, 0, 0])
        #expect(t.memory.states(of: 20..<24) == [.secure, .secure, .secure, .secure])
        #expect(t.hypervisor.sharedFrames.isEmpty, "the hypervisor took its pages back")
    }

    /// page_unshare_all_with_hv(): a transient page stops the walk with the pages
    /// before it already unshared; an HV failure does not kill the SVM.
    @Test func unshareAllStopsPartWayAtATransientPage() throws {
        let t = try TestMachine()
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 2]).r3) == .success)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [40, 1]).r3) == .success)
        t.memory.setState(.hypervisorShared, frames: 35..<36)
        #expect(UltravisorStatus(register: t.boot.ultracall(.unshareAllPages).r3) == .state)
        #expect(t.memory.states(of: 30..<32) == [.secure, .secure], "unshared before the stop")
        #expect(t.memory.state(of: Self.frame(40)) == .shared, "left after the stop")
        #expect(t.machine.stopReason == nil)
    }

    @Test func unshareAllHypervisorFailureDoesNotKillTheSVM() throws {
        // H_SVM_PAGE_IN 1 and 2 share frames 30 and 31; 3 unshares 30; 4 fails.
        let rule = FaultRule(opcode: .hypercall(.svmPageIn), trigger: .nth(4), action: .status(HypervisorStatus.parameter.rawValue))
        let t = try TestMachine(faults: [rule])
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 2]).r3) == .success)
        #expect(UltravisorStatus(register: t.boot.ultracall(.unshareAllPages).r3) == .state)
        #expect(t.machine.stopReason == nil, "no svm_abort in page_unshare_all_with_hv")
        #expect(t.memory.state(of: Self.frame(30)) == .secure)
        #expect(t.memory.state(of: Self.frame(31)) == .hypervisorUnsharing, "left where the hcall failed")
    }

    /// No SVM: ctx_new_context_svm() answers U_FUNCTION.
    @Test func shareCallsWithoutAnSVMAnswerFunction() throws {
        let t = try TestMachine()
        t.boot.update { $0.msr = $0.msr.union(.secure) }
        for u in [Ultracall.sharePage, .unsharePage] {
            #expect(UltravisorStatus(register: t.boot.ultracall(u, [10, 1]).r3) == .function)
        }
        #expect(UltravisorStatus(register: t.boot.ultracall(.unshareAllPages).r3) == .function)
    }

    /// open-power: share, unshare and unshare-all leave r3 at the ucall number
    /// (ctx_end_context restores the saved frame), success or failure; documented:
    /// the status.
    @Test func openPowerLeavesTheUcallNumberInR3() throws {
        let t = try TestMachine(ultravisor: UltravisorConfiguration(firmware: .openPower))
        t.makeSecure()
        #expect(t.boot.ultracall(.sharePage, [20, 1]).r3 == Ultracall.sharePage.rawValue)
        #expect(t.memory.state(of: Self.frame(20)) == .shared, "the share happened")
        #expect(t.boot.ultracall(.sharePage, [UInt64.max - 1, 4]).r3 == Ultracall.sharePage.rawValue, "U_P2 too")
        #expect(t.boot.ultracall(.unsharePage, [20, 1]).r3 == Ultracall.unsharePage.rawValue)
        #expect(t.boot.ultracall(.unshareAllPages).r3 == Ultracall.unshareAllPages.rawValue)
        let d = try TestMachine()
        d.makeSecure()
        #expect(UltravisorStatus(register: d.boot.ultracall(.sharePage, [20, 1]).r3) == .success)
        #expect(UltravisorStatus(register: d.boot.ultracall(.sharePage, [UInt64.max - 1, 4]).r3) == .p2)
    }

    /// open-power: an hcall missing from hcall_regs_table makes the firmware _abort:
    /// the machine stops (documented: H_FUNCTION and an anomaly).
    @Test func openPowerUnknownHcallCrashesTheFirmware() throws {
        let unknown = Hypercall(rawValue: 0x1F0)
        #expect(unknown.reflectedRegisterCounts == nil)
        let t = try TestMachine(ultravisor: UltravisorConfiguration(firmware: .openPower))
        t.makeSecure()
        _ = t.boot.hypercall(unknown, [])
        guard case .firmwareCrash(let reason)? = t.machine.stopReason else {
            Issue.record("expected a firmware crash, got \(String(describing: t.machine.stopReason))")
            return
        }
        #expect(reason.contains("get_n_hcall_regs"))
        let d = try TestMachine()
        d.makeSecure()
        #expect(HypervisorStatus(register: d.boot.hypercall(unknown, []).r3) == .function)
        #expect(d.machine.stopReason == nil)
        #expect(d.ultravisor.anomalies.count == 1)
    }

    /// open-power: after an abort the pages KVM gets back have undefined contents
    /// (a fresh page, kvmppc_uvmem_drop_pages → __kvmppc_svm_page_out); documented
    /// keeps the bytes.
    @Test func openPowerAbortReturnsPagesWithUndefinedContents() throws {
        for profile in FirmwareProfile.allCases {
            let t = try TestMachine(ultravisor: UltravisorConfiguration(firmware: profile))
            #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
            #expect(t.ultravisor.startInitialization(t.context()) == .success)
            let data = [UInt8](repeating: 0x5A, count: 64)
            try t.memory.write(.hypervisor, at: .gpa(7 * page), bytes: data)
            #expect(t.machine.hypercall(.svmPageIn, [7 * page, 0, 16], from: .ultravisor(vcpu: 0), depth: 1).hypervisorStatus == .success)
            var call = t.esmCall()
            t.ultravisor.abortInitialization(t.context(), call: &call)
            #expect(t.memory.state(of: Self.frame(7)) == .normal)
            let back = try t.memory.read(.hypervisor, at: .gpa(7 * page), count: 64)
            #expect((back == data) == (profile == .documented), "\(profile)")
        }
    }
}
