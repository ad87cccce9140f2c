import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import SecureGuest
import PEFTestSupport

/// prom_init's secure-mode entry and os-term path as Linux 6.12 has them (issue 15
/// items 4 and 6; audit rows 1.2, 2.2, 2.3). `UV_ESM` is answered by an injected
/// status so that each branch of `setup_secure_guest()` is reached exactly.
@Suite("prom_init: svm=, setup_secure_guest and prom_rtas_os_term as in Linux")
struct PromInitFidelityTests {
    static let scratch = GuestPhysicalAddress(0x300_0000)

    /// A machine whose tree has `bootargs` and whose `/rtas` is edited by `edit`, and
    /// whose first `UV_ESM` answers `status` without reaching the Ultravisor.
    static func machine(
        bootargs: String = "svm=on console=hvc0", esmStatus: Int64? = HypervisorStatus.parameter.rawValue,
        edit: (inout DeviceTree) throws -> Void = { _ in }
    ) throws -> GuestTestMachine {
        let t = try GuestTestMachine(cpus: 1, bootargs: bootargs)
        let fdt = GuestTestMachine.fdtAddress
        var tree = try #require(PromInit.readDeviceTree(vcpu: t.boot, at: fdt))
        try edit(&tree)
        try tree.pack()
        try t.boot.write(at: fdt, bytes: tree.bytes)
        if let esmStatus {
            t.machine.faults.add(
                FaultRule(opcode: .ultracall(.enterSecureMode), caller: .guest, trigger: .nth(1), action: .status(esmStatus)))
        }
        return t
    }

    static func run(_ t: GuestTestMachine) -> (PromInit.Outcome, KernelLog) {
        var log = KernelLog()
        let outcome = PromInit.run(
            vcpu: t.boot, fdtAddress: GuestTestMachine.fdtAddress, kernelBase: GuestTestMachine.kernelBase,
            scratch: scratch, log: &log)
        return (outcome, log)
    }

    /// `prom_init.c: prom_rtas_os_term (6.12)`: `if (token == 0) prom_panic("Could not
    /// get token for ibm,os-term\n")`; prom_panic() calls OF `exit` and spins. Before
    /// issue 15 SVMKit booted on as a normal guest here (audit row 2.3).
    @Test("Item 4: no ibm,os-term token → prom_panic, no H_RTAS, the guest never boots on")
    func noOsTermTokenPanics() throws {
        let t = try Self.machine { try $0.deleteProperty(RTASService.osTerm.name, at: "/rtas") }
        let (outcome, log) = Self.run(t)
        #expect(outcome == .panicked(status: -4, reason: "Could not get token for ibm,os-term"))
        #expect(log.lines.map(\.message).suffix(3) == [
            "Switching to secure mode.", "Returned -4 from switching to secure mode.",
            "Could not get token for ibm,os-term",
        ])
        #expect(t.machine.trace.count(of: "UV_ESM") == 1)
        #expect(t.machine.trace.count(of: "H_RTAS") == 0)
        #expect(!t.boot.isSecure)
    }

    @Test("Item 4: a zero ibm,os-term token panics the same way (prom_getprop leaves val = 0)")
    func zeroTokenPanics() throws {
        let t = try Self.machine { try $0.setProperty(RTASService.osTerm.name, BigEndianCells.bytes(UInt32(0)), at: "/rtas") }
        let (outcome, _) = Self.run(t)
        #expect(outcome == .panicked(status: -4, reason: "Could not get token for ibm,os-term"))
        #expect(t.machine.trace.count(of: "H_RTAS") == 0)
    }

    /// Only a missing `/rtas` returns silently (`if (!PHANDLE_VALID(rtas_node)) return;`),
    /// and `setup_secure_guest()` returns to prom_init, which goes on to `__start`.
    @Test("Item 4: no /rtas node → prom_rtas_os_term returns, Linux boots on as a normal guest")
    func noRTASNodeContinues() throws {
        let t = try Self.machine { try $0.deleteNode("/rtas") }
        let (outcome, log) = Self.run(t)
        #expect(outcome == .failedButContinued(status: -4, reason: "no /rtas node"))
        #expect(log.contains("Returned -4 from switching to secure mode."))
        #expect(t.machine.trace.count(of: "H_RTAS") == 0)
    }

    @Test("With a token: os_term_args through H_RTAS, and the partition stops")
    func tokenTerminates() throws {
        let t = try Self.machine()
        let (outcome, _) = Self.run(t)
        #expect(outcome == .terminated(status: -4))
        #expect(t.machine.trace.count(of: "H_RTAS") == 1)
        #expect(t.machine.isStopped)
    }

    /// `prom_init.c: setup_secure_guest (6.12)` tests only `ret != U_SUCCESS` on a
    /// 32-bit `int`. Before issue 15 SVMKit os-termed when r3 = 0 came back without a
    /// secure entry (audit row 2.2).
    @Test("Item 6: UV_ESM returning 0 without a secure entry: no os-term, Linux goes on as a normal guest")
    func zeroWithoutSecureEntry() throws {
        let t = try Self.machine(esmStatus: 0)
        let (outcome, log) = Self.run(t)
        #expect(outcome == .normalAfterSuccess)
        #expect(!log.contains("Returned"))
        #expect(t.machine.trace.count(of: "H_RTAS") == 0)
        #expect(!t.machine.isStopped)
    }

    @Test("Item 6: the status is read as a 32-bit int, as enter_secure_mode()'s caller does")
    func statusIsThirtyTwoBits() throws {
        let t = try Self.machine(esmStatus: Int64(bitPattern: 0x1_0000_0000))
        let (outcome, _) = Self.run(t)
        #expect(outcome == .normalAfterSuccess, "r3 = 2^32 is 0 as an int")
    }

    /// `prom_init.c: early_cmdline_parse (6.12)`: `prom_strstr(prom_cmd_line, "svm=")`.
    /// Before issue 15 SVMKit booted normal on `nosvm=1` (exact tokens only).
    @Test("Item 6: nosvm=1 makes prom_init call UV_ESM, with a warning naming the ambiguity")
    func substringSwitchesOn() throws {
        let t = try Self.machine(bootargs: "nosvm=1 console=hvc0")
        let (outcome, log) = Self.run(t)
        #expect(outcome == .terminated(status: -4))
        #expect(t.machine.trace.count(of: "UV_ESM") == 1)
        #expect(log.contains("SVMKit: svm: warning: nosvm=1: prom_init's prom_strstr() finds \"svm=\" here"))
    }

    @Test("Item 6: svm=off svm=on stays normal: the first occurrence decides")
    func firstOccurrenceDecides() throws {
        let t = try Self.machine(bootargs: "svm=off svm=on")
        let (outcome, log) = Self.run(t)
        #expect(outcome == .normal)
        #expect(t.machine.trace.count(of: "UV_ESM") == 0)
        #expect(log.contains("warning"))
    }
}

/// `prom_rtas_os_term()` with fix 74bb84e51171 (v5.7), which 5.4.y took
/// (`arch/powerpc/kernel/prom_init.c: prom_rtas_os_term (5.4.301)`): every series fills
/// nargs 1, nret 1 and the message.
@Suite("prom_init os-term arguments by Linux series")
struct PromInitOsTermProfileTests {
    @Test("os_term_args carries nargs 1, nret 1 and the message (the same code in every series, 5.4 included)")
    func osTermArguments() throws {
        let t = try PromInitFidelityTests.machine()
        var log = KernelLog()
        let outcome = PromInit.run(
            vcpu: t.boot, fdtAddress: GuestTestMachine.fdtAddress, kernelBase: GuestTestMachine.kernelBase,
            scratch: PromInitFidelityTests.scratch, log: &log)
        #expect(outcome == .terminated(status: -4))
        let block = try t.boot.read(at: PromInitFidelityTests.scratch, count: 12)
        let nargs = UInt32(block[4]) << 24 | UInt32(block[5]) << 16 | UInt32(block[6]) << 8 | UInt32(block[7])
        let nret = UInt32(block[8]) << 24 | UInt32(block[9]) << 16 | UInt32(block[10]) << 8 | UInt32(block[11])
        #expect(nargs == 1 && nret == 1)
        if case .osTerm(let message)? = t.machine.stopReason {
            #expect(message == PromInit.secureModeFailedMessage, "\(message ?? "nil")")
        } else {
            Issue.record("the partition did not stop through os-term")
        }
    }
}
