import FuzzSupport
import SVMKit

/// libFuzzer's entry point for the `abi` target: the input is a script of up to 16
/// ultracalls and hypercalls against a live machine with the simulated Ultravisor and
/// hypervisor attached.
///
/// The first byte picks the machine (modulo 8): 0–6 a fresh 16 MiB, 2-vCPU PEF
/// partition that has not gone secure (cheap, so most inputs); 7 a secure guest
/// booted through ``SecureVirtualMachine`` (UV_ESM done, shared LPPACA and pool), so
/// the calls meet an SVM's state (a boot costs about a hundred times a plain input). Each call is 10 bytes or more:
///
/// - control: bit 0 `sc 1`/`sc 2`; bits 1–3 the (S, HV, PR) state
///   (``PrivilegeState/allCombinations``); bit 4 the vCPU; bit 5 sets MSR[TS]; bits 6–7
///   who calls: the vCPU (0, 1), the hypervisor's firmware path (2) or the
///   Ultravisor's (3), which skip the vCPU;
/// - the number: a defined ultracall or known hypercall (selector < 224), else eight
///   raw bytes;
/// - r4–r9, each a kind byte then a value: a small number, a page-aligned guest
///   address or a frame number inside guest memory, or eight raw bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzABI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ABIFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// Writes the seeds (`Scripts/fuzz abi --write-seeds`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzABIInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: FuzzArgv?) -> Int32 {
    fuzzWriteSeedsIfAsked(ABIFuzzer.seeds)
    return 0
}

/// What the `abi` target checks: whatever the opcode, registers, caller and
/// privilege, the simulator does not crash, and a call that returns to the next
/// instruction leaves a defined status in r3 (``UltravisorStatus/allNamed`` after
/// `sc 2`, ``HypervisorStatus/allNamed`` after `sc 1`). A call that resumes the vCPU
/// elsewhere (UV_ESM's entry, UV_RETURN) is exempt.
enum ABIFuzzer {
    static let pageSize: UInt64 = 1 << 16
    static let memoryBytes: UInt64 = 16 << 20
    static let maximumCalls = 16

    /// The key for booted guests (RSA key generation is slow: once per process).
    static let tpmKeyPEM: String = {
        do { return try TPMProvisioning.generateKeyPEM() } catch { fuzzFail("key generation: \(error)") }
    }()

    static func run(_ input: [UInt8]) {
        var script = FuzzInput(input)
        let machine: Machine
        if script.byte() % 8 == 7, let booted = bootedMachine() {
            machine = booted
        } else {
            do {
                machine = try Machine(configuration: MachineConfiguration(
                    memoryBytes: memoryBytes, processorCount: 2, pefEnabled: true, seed: 1))
            } catch {
                fuzzFail("a valid machine configuration was refused: \(error)")
            }
            machine.attach(ultravisor: Ultravisor())
            machine.attach(hypervisor: Hypervisor())
        }
        var calls = 0
        while !script.isAtEnd, calls < maximumCalls {
            calls += 1
            call(on: machine, &script)
        }
    }

    /// The boot configuration; its first build makes the ESM blob (an RSA key
    /// generation), whose initrd later boots reuse, so a boot costs no key generation.
    static let bootConfiguration: BootConfiguration = {
        var configuration = BootConfiguration()
        configuration.memoryBytes = 256 << 20
        configuration.cpuCount = 2
        configuration.tpmKeyPEM = tpmKeyPEM
        do {
            let first = try SecureVirtualMachine(configuration: configuration, traceDetail: false)
            configuration.kernel = first.image.segment("kernel")?.bytes
            configuration.initrd = first.image.segment("initrd")?.bytes
        } catch {
            fuzzFail("the default secure guest does not build: \(error)")
        }
        return configuration
    }()

    /// A booted secure guest's machine, or `nil` when the boot does not end secure
    /// (the input then runs on a fresh machine instead).
    static func bootedMachine() -> Machine? {
        let vm: SecureVirtualMachine
        do { vm = try SecureVirtualMachine(configuration: bootConfiguration, traceDetail: false) } catch {
            fuzzFail("the default secure guest does not build: \(error)")
        }
        let report = vm.boot()
        fuzzRequire(report.isolationViolations == 0, "the default boot has isolation violations: \(report)")
        return report.secure ? vm.machine : nil
    }

    static func call(on machine: Machine, _ script: inout FuzzInput) {
        let control = script.byte()
        let ultracall = control & 1 == 1
        var msr = PrivilegeState.allCombinations[Int(control >> 1) & 7].msr
        if control & 0x20 != 0 { msr = msr.union(.transactionState) }
        let vcpu = (Int(control >> 4) & 1) % machine.processors.count
        let selector = script.byte()
        let number: UInt64
        if selector < 224 {
            number = ultracall
                ? Ultracall.allDefined[Int(selector) % Ultracall.allDefined.count].rawValue
                : Hypercall.allKnown[Int(selector) % Hypercall.allKnown.count].rawValue
        } else {
            number = script.integer()
        }
        var arguments: [UInt64] = []
        for _ in 0..<6 { arguments.append(argument(&script, memory: machine.configuration.memoryBytes)) }
        let registers = Registers(r3: number, arguments: arguments)
        let what = "\(ultracall ? "sc 2" : "sc 1") 0x\(String(number, radix: 16)) via \(control >> 6) with \(PrivilegeState(msr: msr))"

        switch control >> 6 {
        case 2, 3:
            let caller: Caller = control >> 6 == 2 ? .hypervisor(vcpu: vcpu, msr: msr) : .ultravisor(vcpu: vcpu)
            let done = ultracall
                ? machine.ultracall(registers, from: caller, depth: 1)
                : machine.hypercall(registers, from: caller, depth: 1)
            if done.resume == nil { checkStatus(done.registers.r3, ultracall: ultracall, what) }
        default:
            guard let p = machine.processor(vcpu) else { return }
            p.update { s in
                s.msr = msr
                s.registers = registers
            }
            let before = p.snapshot
            if ultracall { p.sc2() } else { p.sc1() }
            let after = p.snapshot
            if after.pc == before.pc &+ 4 { checkStatus(after.registers.r3, ultracall: ultracall, what) }
        }
    }

    static func checkStatus(_ r3: UInt64, ultracall: Bool, _ what: @autoclosure () -> String) {
        if ultracall {
            fuzzRequire(UltravisorStatus.allNamed.contains(UltravisorStatus(register: r3)),
                "\(what()) returned r3 = 0x\(String(r3, radix: 16)), no defined U_* status")
        } else {
            fuzzRequire(HypervisorStatus.allNamed.contains(HypervisorStatus(register: r3)),
                "\(what()) returned r3 = 0x\(String(r3, radix: 16)), no defined H_* status")
        }
    }

    static func argument(_ script: inout FuzzInput, memory: UInt64) -> UInt64 {
        let pages = memory / pageSize
        switch script.byte() % 4 {
        case 0: return UInt64(script.byte())
        case 1: return UInt64(script.integer(UInt16.self)) % (pages + 2) * pageSize
        case 2: return UInt64(script.integer(UInt16.self)) % (pages + 2)
        default: return script.integer()
        }
    }

    // MARK: Seeds

    /// Encodes one call for a seed: control byte, selector, then arguments as raw
    /// values (kind 3).
    static func encode(control: UInt8, selector: UInt8, _ arguments: [UInt64]) -> [UInt8] {
        var out = [control, selector]
        for a in arguments.prefix(6) + Array(repeating: 0, count: max(0, 6 - arguments.count)) {
            out.append(3)
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: a >> (8 * UInt64(i)))) }
        }
        return out
    }

    /// The selector that picks `number` from the known list.
    static func selector(ultracall number: Ultracall) -> UInt8 { UInt8(Ultracall.allDefined.firstIndex(of: number) ?? 0) }
    static func selector(hypercall number: Hypercall) -> UInt8 { UInt8(Hypercall.allKnown.firstIndex(of: number) ?? 0) }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        // (S, HV, PR) index in allCombinations: secure*4 + hypervisor*2 + problem.
        func control(ultracall: Bool, s: Bool, hv: Bool, pr: Bool, via: UInt8 = 0) -> UInt8 {
            let state = UInt8((s ? 4 : 0) + (hv ? 2 : 0) + (pr ? 1 : 0))
            return (ultracall ? 1 : 0) | state << 1 | via << 6
        }
        let kernel = control(ultracall: false, s: false, hv: false, pr: false)
        let secureKernel = control(ultracall: true, s: true, hv: false, pr: false)
        let hypervisor = control(ultracall: true, s: false, hv: true, pr: false, via: 2)
        return [
            ("normal-hcalls", [0]
                + encode(control: kernel, selector: selector(hypercall: .random), [])
                + encode(control: kernel, selector: selector(hypercall: .registerVPA), [1, 0, 0x10000])
                + encode(control: secureKernel, selector: selector(ultracall: .sharePage), [4, 1])),
            ("hypervisor-uvcalls", [0]
                + encode(control: hypervisor, selector: selector(ultracall: .registerMemorySlot), [1, 0, 64 << 20, 0, 0])
                + encode(control: hypervisor, selector: selector(ultracall: .pageIn), [1, 0x20000, 0x20000, 0, 16])
                + encode(control: hypervisor, selector: selector(ultracall: .writePATE), [1, 0, 0])),
            ("secure-guest", [7]
                + encode(control: secureKernel, selector: selector(ultracall: .sharePage), [16, 2])
                + encode(control: secureKernel, selector: selector(ultracall: .unsharePage), [16, 2])
                + encode(control: control(ultracall: false, s: true, hv: false, pr: false), selector: selector(hypercall: .random), [])
                + encode(control: secureKernel, selector: selector(ultracall: .unshareAllPages), [])),
            ("esm-from-guest", [0]
                + encode(control: control(ultracall: true, s: false, hv: false, pr: false), selector: selector(ultracall: .enterSecureMode), [0x40_0000, 0x100_0000])),
        ]
    }
}
