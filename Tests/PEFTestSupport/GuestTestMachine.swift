import DeviceTree
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Testing

import Ultravisor

/// A machine with both firmware parts, a pseries device tree in guest memory, and
/// optionally a virtual block device: what the runtime tests boot a ``GuestKernel`` on.
///
/// Until `UV_ESM` lands, ``makeSecure()`` takes the partition secure with the
/// Ultravisor's building blocks, as ``TestMachine`` does,
/// plus what `svm_fdt_init()` would add: the Ultravisor's reserve-map entries below the
/// RMO top, its implicitly shared RTAS and TPM bounce pages, and the pseudo-shared RTAS
/// area (reference/ultravisor-facts.md §2.5, §5.1).
package struct GuestTestMachine {
    package let machine: Machine
    package let ultravisor: Ultravisor
    package let hypervisor: Hypervisor
    package let disk: VirtualBlockDevice?

    package static let fdtAddress = GuestPhysicalAddress(0x100_0000)
    package static let kernelBase = GuestPhysicalAddress(0x40_0000)
    package static let kernelSize: UInt64 = 0x80_0000

    /// The top of the RMO (min(memory, 768 MiB)).
    package let rmoTop: UInt64
    /// The six RTAS bounce pages the Ultravisor shares implicitly.
    package var rtasBouncePages: Range<UInt64> { (rmoTop - 0x8_0000)..<(rmoTop - 0x2_0000) }
    /// The TPM bounce page (implicit).
    package var tpmBouncePage: UInt64 { rmoTop - 0xA_0000 }
    /// The guest's RTAS instance (pseudo-shared).
    package var rtasBase: UInt64 { rmoTop - 0x20_0000 }

    package var boot: VirtualProcessor { machine.bootProcessor }
    package var memory: GuestMemory { machine.memory }

    package init(
        memory bytes: UInt64 = 512 << 20, cpus: Int = 4, bootargs: String = "console=hvc0 swiotlb=4096,force",
        diskSectors: UInt64? = nil, pef: Bool = true, traceDetail: Bool = true,
        hypervisorTouch: HypervisorTouch = .pageOut
    ) throws {
        machine = try Machine(
            configuration: MachineConfiguration(
                memoryBytes: bytes, processorCount: cpus, pefEnabled: pef, seed: 7, traceRecordsDetail: traceDetail,
                hypervisorTouch: hypervisorTouch))
        let uv = Ultravisor()
        let hv = Hypervisor()
        ultravisor = uv
        hypervisor = hv
        machine.attach(ultravisor: uv)
        machine.attach(hypervisor: hv)
        rmoTop = min(bytes, 768 << 20)
        disk = diskSectors.map { hv.attachBlockDevice(sectorCount: $0) }

        var options = PseriesTreeOptions(memoryBytes: bytes, cpuCount: cpus, bootargs: bootargs)
        options.kernel = DeviceTreeRegion(address: Self.kernelBase.rawValue, size: Self.kernelSize)
        options.rtasBase = UInt32(rmoTop - 0x20_0000)
        var tree = try PseriesTreeBuilder.tree(options)
        if let disk {
            let path = try tree.addNode(disk.deviceTreeNode.name, under: "/vdevice")
            for p in disk.deviceTreeNode.properties { try tree.setProperty(p, at: path) }
        }
        // What svm_fdt_init() reserves below the RMO top: esmb + files FDT, RTAS (6), TSS (2).
        try tree.addReserveEntry(DeviceTreeRegion(address: rmoTop - 0x2_0000, size: 0x2_0000))
        try tree.addReserveEntry(DeviceTreeRegion(address: rmoTop - 0x8_0000, size: 0x6_0000))
        try tree.addReserveEntry(DeviceTreeRegion(address: rmoTop - 0xA_0000, size: 0x2_0000))
        try tree.pack()
        try machine.bootProcessor.write(at: Self.fdtAddress, bytes: tree.bytes)
    }

    /// Takes the partition secure; the boot vCPU then has MSR(S) set and r3 = fdt,
    /// r4 = kbase, as after `UV_ESM`. With `startSecondaries` every other vCPU is also
    /// running in secure mode (as if already brought up); without, they stay stopped and
    /// the Ultravisor's RTAS bounce buffering is set up so the kernel can start them with
    /// RTAS `start-cpu`.
    package func makeSecure(startSecondaries: Bool = true) throws {
        let call = FirmwareCall(
            registers: Registers(r3: Ultracall.enterSecureMode.rawValue, arguments: [Self.kernelBase.rawValue, Self.fdtAddress.rawValue]),
            caller: boot.caller, level: .sc2, depth: 0)
        let ctx = UltravisorContext(call: call, machine: machine, lpid: machine.lpid)
        try #require(ultravisor.createSVM(lpid: machine.lpid, on: machine) == .success)
        try #require(ultravisor.startInitialization(ctx) == .success)
        var notes: [String] = []
        let page: UInt64 = 1 << 16
        try #require(
            ultravisor.share(ctx, frames: (rtasBouncePages.lowerBound / page)..<(rtasBouncePages.upperBound / page),
                kind: .implicit, notes: &notes) == .success)
        try #require(ultravisor.share(ctx, frames: (tpmBouncePage / page)..<(tpmBouncePage / page + 1), kind: .implicit, notes: &notes) == .success)
        try #require(ultravisor.share(ctx, frames: (rtasBase / page)..<(rtasBase / page + 1), kind: .pseudo, notes: &notes) == .success)
        try #require(ultravisor.finishInitialization(ctx) == .success)
        var c = call
        ultravisor.commit(ctx, call: &c, entry: Self.kernelBase.rawValue,
            registers: [3: Self.fdtAddress.rawValue, 4: Self.kernelBase.rawValue, 5: 0])
        if startSecondaries {
            for p in machine.processors {
                p.update { s in
                    s.msr = s.msr.union(.secure)
                    s.isRunning = true
                }
            }
        } else {
            boot.update { $0.msr = $0.msr.union(.secure) }
            var tokens: [String: UInt32] = [:]
            for name in ["start-cpu", "stop-self", "ibm,os-term", "query-cpu-stopped-state"] {
                tokens[name] = PseriesTreeBuilder.rtasToken(name)
            }
            ultravisor.configureRTASBounce(
                lpid: machine.lpid, base: GuestPhysicalAddress(rtasBouncePages.lowerBound), tokens: tokens,
                maximumProcessors: machine.processors.count)
        }
        boot.update { s in
            s.registers[3] = Self.fdtAddress.rawValue
            s.registers[4] = Self.kernelBase.rawValue
            s.pc = Self.kernelBase.rawValue
        }
    }

    /// A kernel for this machine, booted.
    package func boot(_ options: GuestKernelOptions = GuestKernelOptions()) throws -> (GuestKernel, GuestBootReport) {
        let kernel = GuestKernel(machine: machine, options: options)
        let report = try kernel.start(fdtAddress: Self.fdtAddress, kernelBase: Self.kernelBase)
        return (kernel, report)
    }

    /// Trace records of one opcode.
    package func records(_ name: String) -> [TraceRecord] { machine.trace.records.filter { $0.name == name } }

    /// Every ultracall name in the trace counts.
    package var ultracallCount: Int { machine.trace.counts.filter { $0.key.hasPrefix("UV_") }.values.reduce(0, +) }
}

/// Deterministic bytes.
package func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
    var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        return UInt8(truncatingIfNeeded: x)
    }
}
