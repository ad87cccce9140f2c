import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// Random opcodes and register values from every privilege state: the simulator never
/// crashes and every call ends with a defined status (issue 3, "tests that must exist").
@Suite struct RandomCallTests {
    static let defined: Set<Int64> = Set(UltravisorStatus.allNamed.map(\.rawValue) + HypervisorStatus.allNamed.map(\.rawValue))

    static let numbers: [UInt64] =
        Ultracall.allDefined.map(\.rawValue) + Hypercall.allKnown.map(\.rawValue)
        + [0, 0xF100, 0xF154, 0xEF18, 0x1234, 0xFFFF_FFFF_FFFF_FFFF]
    static let ultracalls = Ultracall.allDefined.map(\.rawValue)
    static let hypercalls = Hypercall.allKnown.map(\.rawValue)

    /// An opcode for the level: usually one of its own, sometimes anything.
    static func number(sc1: Bool, _ rng: inout Xoshiro256StarStar) -> UInt64 {
        let pool = rng.next() % 5 == 0 ? numbers : sc1 ? hypercalls : ultracalls
        return pool[Int(rng.next() % UInt64(pool.count))]
    }

    /// A fresh secure machine with RTAS and TPM bounce pages, as after a secure boot.
    static func secureMachine(seed: UInt64) throws -> TestMachine {
        let t = try TestMachine(memory: 32 << 20, cpus: 4, seed: seed, hypervisor: HypervisorConfiguration(tpm: FakeTPM()))
        t.makeSecure()
        var notes: [String] = []
        _ = t.ultravisor.share(t.context(), frames: 400..<407, kind: .implicit, notes: &notes)
        var tokens: [String: UInt32] = [:]
        for (token, service) in t.hypervisor.rtasTokens { tokens[service.rawValue] = token }
        t.ultravisor.configureRTASBounce(lpid: 1, base: .gpa(400 * page), tokens: tokens, maximumProcessors: 4)
        t.ultravisor.setTPMBouncePage(lpid: 1, .gpa(406 * page))
        return t
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func randomCallsNeverCrash(seed: UInt64) throws {
        var rng = Xoshiro256StarStar(seed: seed)
        var t = try Self.secureMachine(seed: seed)
        let memoryBytes = t.memory.byteCount
        func value() -> UInt64 {
            switch rng.next() % 6 {
            case 0: 0
            case 1: rng.next() % 64
            case 2: (rng.next() % (memoryBytes >> 16)) << 16
            case 3: rng.next() % memoryBytes
            case 4: 16
            default: rng.next()
            }
        }
        for i in 0..<1500 {
            if i % 300 == 0 && i > 0 { t = try Self.secureMachine(seed: seed &+ UInt64(i)) }
            let vcpu = t.machine.processors[Int(rng.next() % 4)]
            var msr = PrivilegeState.allCombinations[Int(rng.next() % 8)].msr
            if rng.next() % 8 == 0 { msr.insert(.ibmBit(29)) }
            vcpu.update { $0.msr = msr }
            let sc1 = rng.next() % 2 == 0
            var registers = Registers(r3: Self.number(sc1: sc1, &rng))
            for r in 4...12 { registers[r] = value() }
            registers[31] = value()
            vcpu.update { $0.registers = registers }
            if sc1 { vcpu.sc1() } else { vcpu.sc2() }
            let status = Int64(bitPattern: vcpu.registers.r3)
            #expect(Self.defined.contains(status), "call \(i): r3 = \(status) after \(registers.r3) from \(msr)")
            #expect(t.ultravisor.pendingReflections == 0)
        }
    }

    @Test func normalMachineRandomCallsNeverCrashEither() throws {
        var rng = Xoshiro256StarStar(seed: 99)
        for pef in [true, false] {
            let t = try TestMachine(memory: 16 << 20, cpus: 2, pef: pef, seed: 99)
            for _ in 0..<500 {
                let vcpu = t.boot
                vcpu.update { $0.msr = PrivilegeState.allCombinations[Int(rng.next() % 8)].msr }
                let sc1 = rng.next() % 2 == 0
                var registers = Registers(r3: Self.number(sc1: sc1, &rng))
                for r in 4...12 { registers[r] = rng.next() % 3 == 0 ? rng.next() : rng.next() % (16 << 20) }
                vcpu.update { $0.registers = registers }
                if sc1 { vcpu.sc1() } else { vcpu.sc2() }
                #expect(Self.defined.contains(Int64(bitPattern: vcpu.registers.r3)))
            }
        }
    }
}

/// Same seed, same trace.
@Suite struct DeterminismTests {
    static func scenario(seed: UInt64) throws -> (trace: String, ciphertext: [UInt8]) {
        let t = try TestMachine(seed: seed)
        t.makeSecure()
        _ = t.boot.ultracall(.sharePage, [10, 2])
        _ = t.boot.hypercall(.random)
        _ = t.boot.hypercall(.putTermChar, [0, 3, 0x414243 << 40])
        _ = t.boot.ultracall(.unsharePage, [10, 1])
        #expect(t.hypervisor.pageOut(frame: 20, on: t.machine) == .success)
        _ = try t.boot.read(at: .gpa(20 * page), count: 4)
        let ciphertext = t.machine.hostMemory.page(at: HostMemory.pagePoolBase) ?? []
        #expect(t.hypervisor.pageOut(frame: 21, on: t.machine) == .success)
        let held = t.hypervisor.pagedOutPage(frame: 21, on: t.machine)?.bytes ?? []
        return (t.machine.trace.jsonLines(), ciphertext + held)
    }

    @Test func sameSeedSameTrace() throws {
        let a = try Self.scenario(seed: 42)
        let b = try Self.scenario(seed: 42)
        let c = try Self.scenario(seed: 43)
        #expect(a.trace == b.trace)
        #expect(a.ciphertext == b.ciphertext)
        #expect(a.trace != c.trace, "H_RANDOM's output is in the trace")
        #expect(a.ciphertext != c.ciphertext, "page-out keys come from the seed")
    }
}
