import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Synchronization
import TPM
import Testing

@testable import Ultravisor
import PEFTestSupport

/// A TPM that echoes commands back reversed, or fails, and records what it saw.
final class FakeTPM: TPMBackend {
    let commands = Mutex<[[UInt8]]>([])
    let closes = Mutex(0)
    let failing: Bool
    init(failing: Bool = false) { self.failing = failing }
    func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
        commands.withLock { $0.append(command) }
        if failing { throw TPMTransportError("fake TPM unplugged") }
        return command.reversed()
    }
    func close() { closes.withLock { $0 += 1 } }
}

/// RTAS and TPM traffic through the Ultravisor's bounce pages (reference/ultravisor-facts.md
/// §2.7, §5.4).
@Suite struct BounceBufferTests {
    static let rtasBase: UInt64 = 900

    /// A secure machine with the RTAS bounce area at frame 900 (implicitly shared).
    static func secureWithBounce() throws -> TestMachine {
        let t = try TestMachine()
        t.makeSecure()
        var notes: [String] = []
        #expect(t.ultravisor.share(t.context(), frames: rtasBase..<(rtasBase + 6), kind: .implicit, notes: &notes) == .success)
        var tokens: [String: UInt32] = [:]
        for (token, service) in t.hypervisor.rtasTokens { tokens[service.rawValue] = token }
        t.ultravisor.configureRTASBounce(lpid: 1, base: .gpa(rtasBase * page), tokens: tokens, maximumProcessors: 2)
        return t
    }

    static func token(_ t: TestMachine, _ s: RTASService) -> UInt32 {
        t.hypervisor.rtasTokens.first { $0.value == s }?.key ?? 0
    }

    @Test func secureOSTermIsBouncedAndTheMessageArrives() throws {
        let t = try Self.secureWithBounce()
        let message = Array("Switch to secure mode failed.".utf8)
        try t.boot.write(at: .gpa(100 * page), bytes: message + [0])
        let block = RTASArguments(token: Self.token(t, .osTerm), arguments: [UInt32(100 * page)], returnCount: 1)
        try t.boot.write(at: .gpa(101 * page), bytes: block.encoded)
        let r3 = t.boot.hypercall(.rtas, [101 * page]).r3
        #expect(HypervisorStatus(register: r3) == .success)
        #expect(t.machine.stopReason == .osTerm(message: "Switch to secure mode failed."))
        #expect(t.memory.violationCount == 0)
        #expect(t.ultravisor.rtasBuffersInUse(of: 1) == 0)
        // The hypervisor got a bounce buffer, not the guest's block.
        let hcall = try #require(t.machine.trace.records.last { $0.name == "H_RTAS" && $0.caller.kind == .ultravisor })
        #expect(hcall.arguments[0] >= (Self.rtasBase + 1) * page && hcall.arguments[0] < (Self.rtasBase + 5) * page)
    }

    @Test func nvramRoundTripsThroughBounceBuffers() throws {
        let t = try Self.secureWithBounce()
        let data = (0..<200).map { UInt8(truncatingIfNeeded: $0 * 3) }
        try t.boot.write(at: .gpa(110 * page), bytes: data)
        func rtas(_ service: RTASService, _ args: [UInt32], _ nret: Int) throws -> [UInt32] {
            let block = RTASArguments(token: Self.token(t, service), arguments: args, returnCount: nret)
            try t.boot.write(at: .gpa(111 * page), bytes: block.encoded)
            #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [111 * page]).r3) == .success)
            let back = try t.boot.read(at: .gpa(111 * page), count: RTASArguments.byteCount)
            return try #require(RTASArguments(decoding: back)).returns
        }
        #expect(try rtas(.nvramStore, [64, UInt32(110 * page), 200], 2) == [0, 200])
        #expect(try rtas(.nvramFetch, [64, UInt32(112 * page), 200], 2) == [0, 200])
        #expect(try t.boot.read(at: .gpa(112 * page), count: 200) == data)
        #expect(Array(t.hypervisor.nvram[64..<264]) == data)
        #expect(try rtas(.getSystemParameter, [42, UInt32(113 * page), 16], 1) == [0])
        #expect(try t.boot.read(at: .gpa(113 * page), count: 3) == [0, 1, 0])
        #expect(t.memory.violationCount == 0)
        #expect(t.ultravisor.rtasBuffersInUse(of: 1) == 0)
    }

    /// Every service with every argument count: short blocks, empty blocks, full blocks.
    @Test(arguments: Hypervisor.rtasServices)
    func oddArgumentCountsNeverCrash(service: RTASService) throws {
        let t = try Self.secureWithBounce()
        let defined = Set(HypervisorStatus.allNamed)
        for nargs in [0, 1, 2, 3, 5, 7, 15, 16] {
            for nret in [0, 1, 2] where nargs + nret <= 16 {
                let args = (0..<nargs).map { UInt32(truncatingIfNeeded: (UInt64($0) + 120) * page) }
                let block = RTASArguments(token: Self.token(t, service), arguments: args, returnCount: nret)
                try t.boot.write(at: .gpa(101 * page), bytes: block.encoded)
                let status = HypervisorStatus(register: t.boot.hypercall(.rtas, [101 * page]).r3)
                #expect(defined.contains(status), "\(service) nargs \(nargs) nret \(nret)")
                #expect(t.ultravisor.rtasBuffersInUse(of: 1) == 0)
            }
        }
        // A block claiming more than 16 cells is refused.
        try t.boot.write(at: .gpa(101 * page), bytes: [0, 0, 0x20, 0x1F, 0, 0, 0, 15, 0, 0, 0, 4])
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [101 * page]).r3) == .parameter || t.machine.isStopped)
    }

    @Test func withoutBounceBuffersTheHypervisorCannotReadSecureArgs() throws {
        let t = try TestMachine()
        t.makeSecure()
        let block = RTASArguments(token: 0x201F, arguments: [0], returnCount: 1)
        try t.boot.write(at: .gpa(101 * page), bytes: block.encoded)
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [101 * page]).r3) == .parameter)
        #expect(t.memory.violations.map(\.purpose) == ["H_RTAS args"])
        #expect(!t.machine.isStopped)
    }

    @Test func startCPUGoesThroughTheUltravisorsCookie() throws {
        let t = try Self.secureWithBounce()
        let secondary = t.machine.processors[1]
        let block = RTASArguments(token: Self.token(t, .startCPU), arguments: [1, 0x8000, 0x77], returnCount: 1)
        try t.boot.write(at: .gpa(101 * page), bytes: block.encoded)
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [101 * page]).r3) == .success)
        let s = secondary.snapshot
        #expect(s.isRunning)
        #expect(s.pc == 0x8000)
        #expect(s.registers.r3 == 0x77, "the Ultravisor restored the real r3")
        #expect(s.msr == [.sixtyFourBit, .machineCheck, .secure])
    }

    @Test func tpmCommandsGoThroughTheTPMBouncePage() throws {
        let tpm = FakeTPM()
        let t = try TestMachine(hypervisor: HypervisorConfiguration(tpm: tpm))
        t.makeSecure()
        var notes: [String] = []
        #expect(t.ultravisor.share(t.context(), frames: 950..<951, kind: .implicit, notes: &notes) == .success)
        #expect(t.ultravisor.setTPMBouncePage(lpid: 1, .gpa(950 * page)))
        let command: [UInt8] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x73, 0, 0]
        let response = t.ultravisor.tpmExecute(command, lpid: 1, for: t.boot.caller, depth: 0, on: t.machine)
        #expect(try response.get() == command.reversed())
        #expect(tpm.commands.withLock { $0 } == [command])
        let hcall = try #require(t.machine.trace.records.last { $0.name == "H_TPM_COMM" })
        #expect(hcall.arguments == [1, 950 * page, UInt64(command.count), 950 * page, 4096])
        #expect(hcall.outputs == [UInt64(command.count)])
        // The bounce page is zeroed after each command.
        #expect(try t.memory.read(.ultravisor, at: .gpa(950 * page), count: 4096).allSatisfy { $0 == 0 })
        #expect(t.ultravisor.tpmClose(for: t.boot.caller, depth: 0, on: t.machine) == .success)
        #expect(tpm.closes.withLock { $0 } == 1)
        // Too big, and no bounce page.
        let big = t.ultravisor.tpmExecute([UInt8](repeating: 0, count: 4097), lpid: 1, for: t.boot.caller, depth: 0, on: t.machine)
        #expect(throws: TPMClientError.commandTooLarge(4097)) { try big.get() }
        let none = t.ultravisor.tpmExecute(command, lpid: 2, for: t.boot.caller, depth: 0, on: t.machine)
        #expect(throws: TPMClientError.noBouncePage) { try none.get() }
    }

    @Test func aFailingTPMBackendMapsToEIO() throws {
        let t = try TestMachine(hypervisor: HypervisorConfiguration(tpm: FakeTPM(failing: true)))
        t.makeSecure()
        var notes: [String] = []
        _ = t.ultravisor.share(t.context(), frames: 950..<951, kind: .implicit, notes: &notes)
        t.ultravisor.setTPMBouncePage(lpid: 1, .gpa(950 * page))
        let result = t.ultravisor.tpmExecute([1, 2, 3], lpid: 1, for: t.boot.caller, depth: 0, on: t.machine)
        #expect(throws: TPMClientError.hypercall(.resource, errno: -5)) { try result.get() }
    }
}
