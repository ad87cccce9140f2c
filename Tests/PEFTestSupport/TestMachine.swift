import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Ultravisor

/// A machine with both firmware parts attached: the one-liner the tests build on.
/// (Shared by UltravisorTests, HypervisorTests and SecureGuestTests.)
package struct TestMachine {
    package let machine: Machine
    package let ultravisor: Ultravisor
    package let hypervisor: Hypervisor

    package var lpid: UInt64 { machine.lpid }
    package var boot: VirtualProcessor { machine.bootProcessor }
    package var memory: GuestMemory { machine.memory }

    package init(
        memory: UInt64 = 64 << 20, cpus: Int = 2, pef: Bool = true, seed: UInt64 = 1,
        hypervisor configuration: HypervisorConfiguration = HypervisorConfiguration(), faults: [FaultRule] = [],
        hypervisorTouch: HypervisorTouch = .pageOut, ultravisor uvConfiguration: UltravisorConfiguration = UltravisorConfiguration()
    ) throws {
        machine = try Machine(
            configuration: MachineConfiguration(
                memoryBytes: memory, processorCount: cpus, pefEnabled: pef, seed: seed, faults: faults,
                hypervisorTouch: hypervisorTouch))
        ultravisor = Ultravisor(configuration: uvConfiguration)
        hypervisor = Hypervisor(configuration: configuration)
        machine.attach(ultravisor: ultravisor)
        machine.attach(hypervisor: hypervisor)
    }

    /// A context as if vCPU `vcpu` were inside a `UV_ESM` call.
    package func context(vcpu: Int = 0) -> UltravisorContext {
        UltravisorContext(call: esmCall(vcpu: vcpu), machine: machine, lpid: lpid)
    }

    package func esmCall(vcpu: Int = 0) -> FirmwareCall {
        FirmwareCall(
            registers: Registers(r3: Ultracall.enterSecureMode.rawValue, arguments: [0x40_0000, 0x100_0000]),
            caller: machine.processors[vcpu].caller, level: .sc2, depth: 0)
    }

    /// Takes the partition secure with the UV_ESM building blocks (no checks): create,
    /// H_SVM_INIT_START, H_SVM_INIT_DONE, commit; every vCPU then has MSR(S) set.
    @discardableResult
    package func makeSecure() -> FirmwareCall {
        let ctx = context()
        precondition(ultravisor.createSVM(lpid: lpid, on: machine) == .success)
        precondition(ultravisor.startInitialization(ctx) == .success)
        precondition(ultravisor.finishInitialization(ctx) == .success)
        var call = esmCall()
        ultravisor.commit(ctx, call: &call, entry: 0x40_0000, registers: [3: 0x100_0000, 4: 0x40_0000, 5: 0])
        for p in machine.processors { p.update { $0.msr = $0.msr.union(.secure) } }
        return call
    }
}

extension GuestPhysicalAddress {
    /// Shorthand for tests.
    package static func gpa(_ v: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(rawValue: v) }
}

/// 64 KiB.
package let page: UInt64 = 1 << 16
