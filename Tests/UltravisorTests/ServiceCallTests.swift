import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The hypervisor's service ultracalls (reference/ultravisor-facts.md §7) and the two
/// ultracalls the secure-boot issue implements.
@Suite struct ServiceCallTests {
    struct Case: Sendable, CustomStringConvertible {
        let call: Ultracall
        let args: [UInt64]
        let expected: UltravisorStatus
        var description: String { "\(call.name)(\(args.map { String($0, radix: 16) }.joined(separator: ",")))" }
    }

    static let cases: [Case] =
        [0xB4, 0xBC, 0xBB, 0x352, 0x31F].map { Case(call: .restrictedSPRWrite, args: [$0, 5], expected: .success) }
        + [0x0, 0x1F, 0x3F0].map { Case(call: .restrictedSPRWrite, args: [$0, 5], expected: .parameter) }
        + [0xB4, 0xBC, 0xBB].map { Case(call: .restrictedSPRRead, args: [$0], expected: .success) }
        + [0x352, 0x31F, 0x1].map { Case(call: .restrictedSPRRead, args: [$0], expected: .parameter) }
        + [
            Case(call: .readSCOM, args: [0, 0x1234], expected: .success),
            Case(call: .writeSCOM, args: [0, 0x1234, 9], expected: .success),
            Case(call: .readMemory, args: [0, 0, 0, 8], expected: .permission),
            Case(call: .writeMemory, args: [0, 0, 0, 8], expected: .permission),
            Case(call: .sendSBECommand, args: [0, 0, 0], expected: .unsupported),
        ]

    @Test(arguments: cases)
    func hypervisorServiceCalls(c: Case) throws {
        let t = try TestMachine()
        #expect(t.machine.ultracall(c.call, c.args, from: .hypervisor(), depth: 0).ultravisorStatus == c.expected)
    }

    @Test func restrictedSPRsAndSCOMsReadBackWhatWasWritten() throws {
        let t = try TestMachine()
        _ = t.machine.ultracall(.restrictedSPRWrite, [0xBB, 0xC1AB], from: .hypervisor(), depth: 0)
        #expect(t.machine.ultracall(.restrictedSPRRead, [0xBB], from: .hypervisor(), depth: 0).registers[5] == 0xC1AB)
        _ = t.machine.ultracall(.writeSCOM, [3, 0x2000, 0x77], from: .hypervisor(), depth: 0)
        #expect(t.machine.ultracall(.readSCOM, [3, 0x2000], from: .hypervisor(), depth: 0).registers[4] == 0x77)
        #expect(t.machine.ultracall(.readSCOM, [4, 0x2000], from: .hypervisor(), depth: 0).registers[4] == 0)
    }

    /// UV_ESMB_GET_FILE is admitted from every privilege state (the firmware has no MSR
    /// check for it); without an SVM for the LPIDR it answers U_PARAMETER (§4.2 step 1).
    @Test func esmbGetFileWithoutAnSVMIsUParameterFromEveryState() throws {
        let t = try TestMachine()
        for state in PrivilegeState.allCombinations {
            t.boot.update { $0.msr = state.msr }
            #expect(UltravisorStatus(register: t.boot.ultracall(.getESMFile, [0]).r3) == .parameter)
        }
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
    }
}
