import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Synchronization
import TPM
import Testing
import PEFTestSupport

/// A TPM that answers every command with a fixed response, or fails.
final class CannedTPM: TPMBackend {
    let seen = Mutex<[[UInt8]]>([])
    let closes = Mutex(0)
    let response: [UInt8]?
    init(response: [UInt8]?) { self.response = response }
    func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
        seen.withLock { $0.append(command) }
        guard let response else { throw TPMTransportError("canned TPM has no response") }
        return response
    }
    func close() { closes.withLock { $0 += 1 } }
}

/// H_TPM_COMM's argument checks, one at a time (issue 4 item 3).
@Suite struct TPMCommTests {
    static let request: UInt64 = 40 * page
    static let response: UInt64 = 41 * page
    static let command: [UInt8] = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x7B]
    static let answer: [UInt8] = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0]

    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let args: [UInt64]
        let tpm: Bool
        let failing: Bool
        let secureFrame: UInt64?
        let expected: HypervisorStatus
        let violation: Bool
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "execute", args: [1, request, 10, response, 4096], tpm: true, failing: false, secureFrame: nil,
            expected: .success, violation: false),
        Case(name: "same buffer for both", args: [1, request, 10, request, 4096], tpm: true, failing: false,
            secureFrame: nil, expected: .success, violation: false),
        Case(name: "close", args: [2], tpm: true, failing: false, secureFrame: nil, expected: .success,
            violation: false),
        Case(name: "no TPM configured", args: [1, request, 10, response, 4096], tpm: false, failing: false,
            secureFrame: nil, expected: .function, violation: false),
        Case(name: "operation 0", args: [0, request, 10, response, 4096], tpm: true, failing: false, secureFrame: nil,
            expected: .parameter, violation: false),
        Case(name: "operation 3", args: [3, request, 10, response, 4096], tpm: true, failing: false, secureFrame: nil,
            expected: .parameter, violation: false),
        Case(name: "request buffer outside memory", args: [1, 1 << 40, 10, response, 4096], tpm: true,
            failing: false, secureFrame: nil, expected: .p2, violation: false),
        Case(name: "request buffer not shared", args: [1, request, 10, response, 4096], tpm: true, failing: false,
            secureFrame: 40, expected: .p2, violation: true),
        Case(name: "request over 4 KiB", args: [1, request, 4097, response, 4096], tpm: true, failing: false,
            secureFrame: nil, expected: .p3, violation: false),
        Case(name: "response buffer outside memory", args: [1, request, 10, (64 << 20) - 100, 4096], tpm: true,
            failing: false, secureFrame: nil, expected: .p4, violation: false),
        Case(name: "response buffer not shared", args: [1, request, 10, response, 4096], tpm: true, failing: false,
            secureFrame: 41, expected: .p4, violation: true),
        Case(name: "response buffer under 4 KiB", args: [1, request, 10, response, 4095], tpm: true, failing: false,
            secureFrame: nil, expected: .p5, violation: false),
        Case(name: "backend fails", args: [1, request, 10, response, 4096], tpm: true, failing: true, secureFrame: nil,
            expected: .resource, violation: false),
    ]

    @Test(arguments: cases)
    func checks(c: Case) throws {
        let tpm = CannedTPM(response: c.failing ? nil : Self.answer)
        let t = try TestMachine(hypervisor: HypervisorConfiguration(tpm: c.tpm ? tpm : nil))
        try t.memory.write(.hypervisor, at: .gpa(Self.request), bytes: Self.command)
        if let f = c.secureFrame { t.memory.setState(.secure, frames: f..<(f + 1)) }
        // The Ultravisor issues it; the hypervisor checks it the same way whoever calls.
        let answer = t.machine.hypercall(.tpmComm, c.args, from: .ultravisor(vcpu: 0), depth: 1)
        #expect(answer.hypervisorStatus == c.expected)
        #expect((t.memory.violationCount == 1) == c.violation)
        if c.violation { #expect(t.memory.violations.first?.purpose?.hasPrefix("H_TPM_COMM") == true) }
        if c.expected == .success, c.args[0] == 1 {
            #expect(answer.registers[4] == UInt64(Self.answer.count), "r4 = response size")
            #expect(tpm.seen.withLock { $0 } == [Self.command])
            #expect(try t.memory.read(.hypervisor, at: .gpa(c.args[3]), count: Self.answer.count) == Self.answer)
        } else if c.expected != .resource {
            #expect(tpm.seen.withLock { $0 }.isEmpty, "a refused call never reaches the TPM")
        }
        if c.args[0] == 2 { #expect(tpm.closes.withLock { $0 } == 1) }
    }
}
