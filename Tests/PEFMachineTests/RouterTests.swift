import PowerABI
import Synchronization
import Testing

@_spi(Firmware) @testable import PEFMachine

/// Firmware stand-ins that record what reaches them.
final class RecordingUltravisor: UltravisorFirmware {
    let ultracalls = Mutex<[UInt64]>([])
    let secureHypercalls = Mutex<[UInt64]>([])

    func handleUltracall(_ call: inout FirmwareCall, on machine: Machine) {
        ultracalls.withLock { $0.append(call.number) }
        call.finish(UltravisorStatus.success)
    }

    func handleSecureHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        secureHypercalls.withLock { $0.append(call.number) }
        call.finish(HypervisorStatus.success)
    }

    func handlePageFault(_ fault: PageFault, on machine: Machine) -> Bool { false }
}

final class RecordingHypervisor: HypervisorFirmware {
    let calls = Mutex<[(CallLevel, UInt64)]>([])

    func handleHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        calls.withLock { $0.append((call.level, call.number)) }
        call.finish(call.level == .sc2 ? HypervisorStatus.function : HypervisorStatus.success)
    }
}

func makeMachine(pef: Bool = true, seed: UInt64 = 0, faults: [FaultRule] = []) throws -> (
    Machine, RecordingUltravisor, RecordingHypervisor
) {
    let machine = try Machine(
        configuration: MachineConfiguration(
            memoryBytes: 16 * page, processorCount: 2, pefEnabled: pef, seed: seed, faults: faults))
    let uv = RecordingUltravisor()
    let hv = RecordingHypervisor()
    machine.attach(ultravisor: uv)
    machine.attach(hypervisor: hv)
    return (machine, uv, hv)
}

@Suite struct RouterTests {
    /// Who may make each ultracall, written out from reference/ultravisor-facts.md §1.1
    /// (not taken from `Ultracall.allowedCaller`, so this test checks it).
    static func admitted(_ call: Ultracall, s: Bool, hv: Bool, pr: Bool) -> Bool {
        switch call {
        case .getESMFile: true
        case .enterSecureMode: !hv && !pr
        case .sharePage, .unsharePage, .unshareAllPages: s && !hv && !pr
        default: hv && !pr
        }
    }

    /// The whole permission matrix: every defined ultracall from every (S, HV, PR) state.
    @Test(arguments: PrivilegeState.allCombinations)
    func permissionMatrix(state: PrivilegeState) throws {
        for ucall in Ultracall.allDefined {
            let (machine, uv, _) = try makeMachine()
            let vcpu = machine.bootProcessor
            vcpu.update { $0.msr = state.msr }
            let r3 = vcpu.ultracall(ucall, [1, 2, 3]).r3
            let expected = Self.admitted(ucall, s: state.isSecure, hv: state.isHypervisor, pr: state.isProblem)
            if expected {
                #expect(UltravisorStatus(register: r3) == .success, "\(ucall) from \(state)")
                #expect(uv.ultracalls.withLock { $0 } == [ucall.rawValue])
            } else {
                #expect(UltravisorStatus(register: r3) == .permission, "\(ucall) from \(state)")
                #expect(uv.ultracalls.withLock { $0 }.isEmpty)
            }
            #expect(machine.trace.count(of: ucall.name) == 1)
        }
    }

    /// Transactional memory on a hypervisor ultracall gives U_BAD_MODE, except UV_RETURN.
    @Test(arguments: [Ultracall.writePATE, .pageIn, .registerMemorySlot, .return, .getESMFile])
    func transactionalMemoryOnHypervisorCalls(ucall: Ultracall) throws {
        let (machine, uv, _) = try makeMachine()
        let caller = Caller.hypervisor(msr: MachineStateRegister.hypervisorKernel.union(.ibmBit(29)))
        let answer = machine.ultracall(ucall, [1], from: caller, depth: 0)
        if ucall == .return {
            #expect(answer.ultravisorStatus == .success)
            #expect(uv.ultracalls.withLock { $0 } == [ucall.rawValue])
        } else {
            #expect(answer.ultravisorStatus == .badMode)
            #expect(uv.ultracalls.withLock { $0 }.isEmpty)
        }
    }

    @Test func unknownNumbersNeverReachFirmware() throws {
        let (machine, uv, hv) = try makeMachine()
        let vcpu = machine.bootProcessor
        for state in PrivilegeState.allCombinations {
            vcpu.update { $0.msr = state.msr }
            vcpu.update { $0.registers = Registers(r3: 0xF100) }
            vcpu.sc2()
            #expect(UltravisorStatus(register: vcpu.registers.r3) == .function)
            vcpu.update { $0.registers = Registers(r3: 0xDEAD_BEEF) }
            vcpu.sc2()
            #expect(UltravisorStatus(register: vcpu.registers.r3) == .function)
        }
        #expect(uv.ultracalls.withLock { $0 }.isEmpty)
        #expect(hv.calls.withLock { $0 }.isEmpty)
    }

    @Test func scTwoWithoutPEFFailsInTheHypervisor() throws {
        let (machine, uv, hv) = try makeMachine(pef: false)
        let r3 = machine.bootProcessor.ultracall(.enterSecureMode, [0x40_0000, 0x100_0000]).r3
        #expect(HypervisorStatus(register: r3) == .function)
        #expect(UltravisorStatus(register: r3) == .function)
        #expect(uv.ultracalls.withLock { $0 }.isEmpty)
        #expect(hv.calls.withLock { $0.map(\.0) } == [.sc2])
    }

    @Test func scOneGoesWhereTheMSRSays() throws {
        let (machine, uv, hv) = try makeMachine()
        let vcpu = machine.bootProcessor
        vcpu.hypercall(.putTermChar, [0, 1, 0x41 << 56])
        #expect(hv.calls.withLock { $0.count } == 1)
        vcpu.update { $0.msr = $0.msr.union(.secure) }
        vcpu.hypercall(.putTermChar, [0, 1, 0x41 << 56])
        #expect(uv.secureHypercalls.withLock { $0 } == [Hypercall.putTermChar.rawValue])
        #expect(hv.calls.withLock { $0.count } == 1)
        for secure in [false, true] {
            vcpu.update { $0.msr = PrivilegeState(secure: secure, hypervisor: false, problem: true).msr }
            #expect(HypervisorStatus(register: vcpu.hypercall(.cede).r3) == .privilege)
        }
        #expect(hv.calls.withLock { $0.count } == 1)
        #expect(uv.secureHypercalls.withLock { $0.count } == 1)
    }

    @Test func programCounterAdvancesOrFollowsTheFirmware() throws {
        final class Entering: UltravisorFirmware {
            func handleUltracall(_ call: inout FirmwareCall, on machine: Machine) {
                call.registers.r3 = 0x100_0000
                call.resume = ResumePoint(pc: 0x40_0000, msr: call.caller.msr.union(.secure))
            }
            func handleSecureHypercall(_ call: inout FirmwareCall, on machine: Machine) {}
            func handlePageFault(_ fault: PageFault, on machine: Machine) -> Bool { false }
        }
        let (machine, _, _) = try makeMachine()
        let vcpu = machine.bootProcessor
        vcpu.update { $0.pc = 0x1000 }
        vcpu.hypercall(.cede)
        #expect(vcpu.pc == 0x1004)
        machine.attach(ultravisor: Entering())
        vcpu.ultracall(.enterSecureMode, [0x40_0000, 0x100_0000])
        #expect(vcpu.pc == 0x40_0000)
        #expect(vcpu.isSecure)
        #expect(vcpu.registers.r3 == 0x100_0000)
    }

    @Test func faultPlanReplacesTheNthCall() throws {
        let rule = FaultRule(
            opcode: .ultracall(.sharePage), trigger: .nth(2), action: .status(UltravisorStatus.p2.rawValue))
        let (machine, uv, _) = try makeMachine(faults: [rule])
        let vcpu = machine.bootProcessor
        vcpu.update { $0.msr = $0.msr.union(.secure) }
        let results = (0..<3).map { _ in UltravisorStatus(register: vcpu.ultracall(.sharePage, [1, 1]).r3) }
        #expect(results == [.success, .p2, .success])
        #expect(uv.ultracalls.withLock { $0.count } == 2)
        #expect(machine.faults.injections.map(\.occurrence) == [2])
        #expect(machine.trace.records[1].notes.contains { $0.contains("fault injected") })
    }

    @Test func stoppedPartitionGetsHardwareErrors() throws {
        let (machine, _, hv) = try makeMachine()
        machine.stop(.powerOff)
        let vcpu = machine.bootProcessor
        #expect(HypervisorStatus(register: vcpu.hypercall(.cede).r3) == .hardware)
        #expect(UltravisorStatus(register: vcpu.ultracall(.enterSecureMode, [1, 1]).r3) == .hardware)
        #expect(hv.calls.withLock { $0 }.isEmpty)
        #expect(machine.stopReason == .powerOff)
        machine.stop(.osTerm(message: "later"))
        #expect(machine.stopReason == .powerOff)
    }

    @Test func firmwareCallsAreTracedWithDepthAndCaller() throws {
        let (machine, _, _) = try makeMachine()
        _ = machine.hypercall(.svmInitStart, from: .ultravisor(vcpu: 1), depth: 1)
        _ = machine.ultracall(.registerMemorySlot, [1, 0, 0x10000, 0, 0], from: .hypervisor(vcpu: 1), depth: 2)
        let records = machine.trace.records
        #expect(records.map(\.name) == ["H_SVM_INIT_START", "UV_REGISTER_MEM_SLOT"])
        #expect(records.map(\.depth) == [1, 2])
        #expect(records.map(\.caller.kind) == [.ultravisor, .hypervisor])
        #expect(records[1].arguments == [1, 0, 0x10000, 0, 0])
        #expect(records[0].caller.privilege.isSecure)
    }
}
