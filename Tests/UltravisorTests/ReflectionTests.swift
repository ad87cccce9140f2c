import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// A secure vCPU's `sc 1` (reference/ultravisor-facts.md §1.4, §7).
@Suite struct ReflectionTests {
    @Test func reflectedHcallCarriesOnlyItsInputsAndComesBackThroughUVReturn() throws {
        let t = try TestMachine()
        t.makeSecure()
        var registers = Registers()
        for i in 0..<32 { registers[i] = 0x1111_0000 + UInt64(i) }
        registers.r3 = Hypercall.putTermChar.rawValue
        registers[4] = 0
        registers[5] = 2
        registers[6] = 0x4F4B << 48
        t.boot.update { $0.registers = registers }
        let start = t.machine.trace.records.count
        t.boot.sc1()
        let after = t.boot.registers
        #expect(HypervisorStatus(register: after.r3) == .success)
        #expect(t.hypervisor.consoleOutput == "OK")
        // Every register but the outputs (r3 only for H_PUT_TERM_CHAR) is as it was.
        for i in 4..<32 { #expect(after[i] == registers[i], "r\(i)") }
        let records = t.machine.trace.records.filter { $0.sequence >= start }
        #expect(records.map(\.name) == ["H_PUT_TERM_CHAR", "H_PUT_TERM_CHAR", "UV_RETURN"])
        #expect(records.map(\.level) == [.sc1, .reflection, .sc2])
        #expect(records.map(\.depth) == [0, 1, 1])
        #expect(records[1].arguments.prefix(3) == [0, 2, 0x4F4B << 48])
        #expect(records[2].caller.kind == .hypervisor)
        #expect(records[2].arguments.first == 0, "r0 carries the hypervisor's status")
        #expect(t.ultravisor.pendingReflections == 0)
    }

    @Test func theHypervisorSeesScrubbedRegisters() throws {
        final class Spy: HypervisorFirmware {
            let seen = Mutex<Registers?>(nil)
            func handleHypercall(_ call: inout FirmwareCall, on machine: Machine) {
                seen.withLock { $0 = call.registers }
                call.finish(HypervisorStatus.success)
            }
        }
        let t = try TestMachine()
        t.makeSecure()
        let spy = Spy()
        t.machine.attach(hypervisor: spy)
        var registers = Registers(r3: Hypercall.cede.rawValue)
        for i in 4..<32 { registers[i] = 0x5EC2_E700 + UInt64(i) }
        t.boot.update { $0.registers = registers }
        t.boot.sc1()
        let seen = try #require(spy.seen.withLock { $0 })
        #expect(seen.r3 == Hypercall.cede.rawValue)
        // H_CEDE takes only r3: nothing else of the SVM reaches the hypervisor.
        for i in 4..<32 { #expect(seen[i] != registers[i], "r\(i) leaked") }
        // H_CEDE returns with MSR(EE) set.
        #expect(t.boot.msr.contains(.externalInterrupts))
    }

    @Test func hRandomIsAnsweredByTheUltravisor() throws {
        let t = try TestMachine()
        t.makeSecure()
        let start = t.machine.trace.records.count
        let first = t.boot.hypercall(.random)
        let second = t.boot.hypercall(.random)
        #expect(HypervisorStatus(register: first.r3) == .success)
        #expect(first[4] != second[4])
        let records = t.machine.trace.records.filter { $0.sequence >= start }
        #expect(records.map(\.level) == [.sc1, .sc1], "never reflected")
        #expect(records.allSatisfy { $0.caller.kind == .guest })
        // A normal guest's H_RANDOM goes to the hypervisor.
        let normal = try TestMachine()
        normal.boot.hypercall(.random)
        #expect(normal.machine.trace.records.count == 1)
    }

    @Test func anHcallOutsideTheRegisterTableDoesNotCrash() throws {
        let t = try TestMachine()
        t.makeSecure()
        let r3 = t.boot.hypercall(Hypercall(rawValue: 0x1234)).r3
        #expect(HypervisorStatus(register: r3) == .function)
        #expect(t.ultravisor.anomalies.count == 1)
        #expect(t.ultravisor.anomalies.first?.realFirmware.contains("_abort") == true)
        #expect(!t.machine.trace.records.contains { $0.level == .reflection })
    }

    @Test func uvReturnWithAnUnknownCookieIsAnAnomalyNotACrash() throws {
        let t = try TestMachine()
        var registers = Registers(r3: Ultracall.return.rawValue)
        registers[31] = 0xBAD
        let answer = t.machine.ultracall(registers, from: .hypervisor(), depth: 0)
        #expect(answer.ultravisorStatus == .parameter)
        #expect(t.ultravisor.anomalies.count == 1)
    }

    @Test func aLostUVReturnGivesHHardware() throws {
        let rule = FaultRule(
            opcode: .ultracall(.return), trigger: .every, action: .status(UltravisorStatus.hardware.rawValue))
        let t = try TestMachine(faults: [rule])
        t.makeSecure()
        #expect(HypervisorStatus(register: t.boot.hypercall(.cede).r3) == .hardware)
        #expect(t.ultravisor.pendingReflections == 0)
    }

    @Test func pageFaultOnAnInvalidatedShareRevalidatesIt() throws {
        let t = try TestMachine()
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [12, 1]).r3) == .success)
        try t.memory.write(.hypervisor, at: .gpa(12 * page), bytes: [4, 2])
        #expect(t.machine.ultracall(.pageInvalidate, [1, 12 * page, 16], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        #expect(try t.boot.read(at: .gpa(12 * page), count: 2) == [4, 2])
        #expect(t.memory.state(of: GuestFrameNumber(12)) == .shared)
        let pageIn = t.machine.trace.records.last { $0.name == "H_SVM_PAGE_IN" }
        #expect(pageIn?.arguments[1] == Hypercall.pageInShared)
    }
}

import Synchronization
