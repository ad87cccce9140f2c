import PowerABI
import Locking

/// The architected state of one vCPU that SVMKit models.
public struct ProcessorState: Hashable, Sendable {
    /// The Machine State Register: S, HV and PR decide the privilege.
    public var msr: MachineStateRegister
    /// r0–r31.
    public var registers: Registers
    /// The program counter (NIA).
    public var pc: UInt64
    /// The Process ID Register (UV_ESMB_GET_FILE keys its per-process state on it).
    public var pidr: UInt64
    /// The Logical Partition ID Register.
    public var lpidr: UInt64
    /// Whether the vCPU is running (the boot vCPU is; others wait for RTAS `start-cpu`).
    public var isRunning: Bool

    /// Makes a state.
    public init(
        msr: MachineStateRegister = .guestKernel, registers: Registers = Registers(), pc: UInt64 = 0,
        pidr: UInt64 = 0, lpidr: UInt64 = 1, isRunning: Bool = true
    ) {
        self.msr = msr
        self.registers = registers
        self.pc = pc
        self.pidr = pidr
        self.lpidr = lpidr
        self.isRunning = isRunning
    }
}

/// A virtual processor of the partition.
///
/// `sc1()` and `sc2()` (the `sc 1` and `sc 2` instructions) are the only way guest
/// code reaches firmware: they hand the register file to the machine's router and
/// leave the answer in the registers (and, when firmware says so, a new PC and MSR:
/// the `UV_ESM` success path re-enters the kernel at kbase in secure mode).
public final class VirtualProcessor: Sendable {
    /// The vCPU number (0 is the boot vCPU).
    public let index: Int
    private let link: MachineLink
    private let state: Lock<ProcessorState>

    init(index: Int, link: MachineLink, initial: ProcessorState) {
        self.index = index
        self.link = link
        self.state = Lock(initial)
    }

    /// The machine this vCPU belongs to (`nil` once the machine is gone).
    public var machine: Machine? { link.machine }

    /// A copy of the whole state.
    public var snapshot: ProcessorState { state.withLock { $0 } }

    /// Runs `body` on the state under the vCPU's lock: the firmware's (and tests') way to
    /// set the MSR, PC, registers, PIDR or LPIDR (the guest cannot: the getters are public,
    /// this is `@_spi(Firmware)`).
    @_spi(Firmware) public func update<R: Sendable>(_ body: (inout ProcessorState) -> R) -> R { state.withLock { body(&$0) } }

    /// The MSR.
    public var msr: MachineStateRegister { state.withLock { $0.msr } }

    /// The register file.
    public var registers: Registers { state.withLock { $0.registers } }

    /// The program counter.
    public var pc: UInt64 { state.withLock { $0.pc } }

    /// The PIDR.
    public var pidr: UInt64 { state.withLock { $0.pidr } }

    /// The LPIDR.
    public var lpidr: UInt64 { state.withLock { $0.lpidr } }

    /// Whether MSR(S) is set: what Linux's `is_secure_guest()` reads
    /// (reference/linux-guest-facts.md §1.0).
    public var isSecure: Bool { msr.contains(.secure) }

    /// The vCPU as a caller.
    public var caller: Caller { Caller(kind: .guest, vcpu: index, msr: msr) }

    /// `sc 1`: a hypercall with the number in r3. Afterwards r3 holds the status.
    public func sc1() { systemCall(.sc1) }

    /// `sc 2`: an ultracall with the number in r3. Afterwards r3 holds the status (or the
    /// vCPU continues where the Ultravisor said).
    public func sc2() { systemCall(.sc2) }

    private func systemCall(_ level: CallLevel) {
        let before = state.withLock { $0 }
        guard let machine else {
            state.withLock { s in
                s.registers.r3 = level == .sc2 ? UltravisorStatus.hardware.register : HypervisorStatus.hardware.register
                s.pc &+= 4
            }
            return
        }
        let call = machine.systemCall(
            level: level, registers: before.registers, caller: Caller(kind: .guest, vcpu: index, msr: before.msr))
        state.withLock { s in
            s.registers = call.registers
            if let resume = call.resume {
                s.pc = resume.pc ?? (before.pc &+ 4)
                if let msr = resume.msr { s.msr = msr }
            } else {
                s.pc = before.pc &+ 4
            }
        }
    }

    /// Puts `number` in r3 and `arguments` from r4, executes `sc 1`, and returns the
    /// registers afterwards.
    @discardableResult
    public func hypercall(_ number: Hypercall, _ arguments: [UInt64] = []) -> Registers {
        setArguments(number.rawValue, arguments)
        sc1()
        return registers
    }

    /// Puts `number` in r3 and `arguments` from r4, executes `sc 2`, and returns the
    /// registers afterwards.
    @discardableResult
    public func ultracall(_ number: Ultracall, _ arguments: [UInt64] = []) -> Registers {
        setArguments(number.rawValue, arguments)
        sc2()
        return registers
    }

    private func setArguments(_ r3: UInt64, _ arguments: [UInt64]) {
        state.withLock { s in
            s.registers.r3 = r3
            for (i, a) in arguments.prefix(28).enumerated() { s.registers[4 + i] = a }
        }
    }

    // MARK: Guest memory, as this vCPU

    /// Reads guest memory with this vCPU's current privilege.
    public func read(at address: GuestPhysicalAddress, count: Int, purpose: String? = nil)
        throws(MemoryAccessError) -> [UInt8]
    {
        guard let machine else { throw .outOfRange(address: address, count: UInt64(count), memoryBytes: 0) }
        return try machine.memory.read(.guest(self), at: address, count: count, purpose: purpose)
    }

    /// Writes guest memory with this vCPU's current privilege.
    public func write(at address: GuestPhysicalAddress, bytes: [UInt8], purpose: String? = nil)
        throws(MemoryAccessError)
    {
        guard let machine else { throw .outOfRange(address: address, count: UInt64(bytes.count), memoryBytes: 0) }
        try machine.memory.write(.guest(self), at: address, bytes: bytes, purpose: purpose)
    }

    /// Reads a big-endian integer (PAPR structures are big-endian) with this vCPU's
    /// current privilege: a kernel's `be64_to_cpu()` load.
    public func readBigEndian<T: FixedWidthInteger>(
        at address: GuestPhysicalAddress, as type: T.Type, purpose: String? = nil
    ) throws(MemoryAccessError) -> T {
        guard let machine else { throw .outOfRange(address: address, count: UInt64(MemoryLayout<T>.size), memoryBytes: 0) }
        return try machine.memory.readBigEndian(.guest(self), at: address, as: type, purpose: purpose)
    }

    /// Writes a big-endian integer with this vCPU's current privilege: a kernel's
    /// `cpu_to_be64()` store.
    public func writeBigEndian<T: FixedWidthInteger>(
        at address: GuestPhysicalAddress, _ value: T, purpose: String? = nil
    ) throws(MemoryAccessError) {
        guard let machine else { throw .outOfRange(address: address, count: UInt64(MemoryLayout<T>.size), memoryBytes: 0) }
        try machine.memory.writeBigEndian(.guest(self), at: address, value, purpose: purpose)
    }

    /// Sets `count` bytes at `address` to zero with this vCPU's current privilege
    /// (a kernel's `memset(p, 0, n)`).
    public func zero(at address: GuestPhysicalAddress, count: Int, purpose: String? = nil) throws(MemoryAccessError) {
        guard let machine else { throw .outOfRange(address: address, count: UInt64(max(count, 0)), memoryBytes: 0) }
        try machine.memory.zero(.guest(self), at: address, count: count, purpose: purpose)
    }

    /// Copies `count` bytes inside guest memory with this vCPU's current privilege, both
    /// ranges checked and the bytes moved under one lock (a kernel's `memcpy()`: the
    /// SWIOTLB bounce path).
    public func copy(
        from source: GuestPhysicalAddress, to destination: GuestPhysicalAddress, count: Int, purpose: String? = nil
    ) throws(MemoryAccessError) {
        guard let machine else { throw .outOfRange(address: source, count: UInt64(max(count, 0)), memoryBytes: 0) }
        try machine.memory.copy(.guest(self), from: source, to: destination, count: count, purpose: purpose)
    }
}
