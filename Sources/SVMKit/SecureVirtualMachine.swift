import DeviceTree
import ESM
import Foundation
import Hypervisor
import PEFMachine
import PowerABI
import SecureGuest
import Synchronization
import TPM
import Ultravisor

/// A simulated POWER partition with PEF, ready to boot a guest: the façade that puts
/// the modules together the way a host does.
///
/// ```swift
/// let vm = try SecureVirtualMachine(configuration: BootConfiguration())
/// let report = vm.boot()
/// print(report.secure)   // true: prom_init's UV_ESM passed the Ultravisor's checks
/// ```
///
/// Building it lays out the ``BootImage``, makes the ``Machine``, provisions the
/// simulated TPM with the image's key (persistent handle 0x81800001), gives the
/// Ultravisor the matching wrapping-key parameters (its `ibm,uv-tpm` node), and
/// loads the image into guest memory as QEMU and SLOF would, through the
/// hypervisor's accessor. ``boot()`` then runs the guest kernel: prom_init
/// (`svm=`, `UV_ESM`, the os-term path) and, when the guest is up, its runtime.
public final class SecureVirtualMachine: Sendable {
    /// The laid-out image.
    public let image: BootImage
    /// The partition.
    public let machine: Machine
    /// The simulated Ultravisor.
    public let ultravisor: Ultravisor
    /// The simulated hypervisor.
    public let hypervisor: Hypervisor
    /// The simulated TPM holding the image's key.
    public let tpm: SoftwareTPM
    /// What the guest booted with.
    public let configuration: BootConfiguration

    private let state = Mutex(State())
    private struct State: Sendable {
        var log = KernelLog()
        var outcome: PromInit.Outcome?
    }

    /// The auth value SVMKit provisions the TPM key with.
    public static let tpmAuthValue = Array("svmkit-wrapping-key".utf8)
    /// Where prom_init keeps its static data (`os_term_args`): just past the kernel image.
    var promScratch: UInt64 {
        let kernelEnd = image.segment("kernel")?.end ?? image.kernelBase
        return (kernelEnd + 0xFFF) & ~0xFFF
    }

    /// Lays out the image, builds the machine and firmware, and loads the image.
    /// - Parameters:
    ///   - configuration: what to boot.
    ///   - faults: faults to inject into calls.
    ///   - traceDetail: keep every call record (off for very large guests: counts only).
    /// - Throws: ``BootError`` naming the input that is wrong.
    public init(configuration: BootConfiguration, faults: [FaultRule] = [], traceDetail: Bool = true) throws(BootError) {
        self.configuration = configuration
        let image = try BootImageBuilder.build(configuration)
        self.image = image
        do {
            let provisioned = try TPMProvisioning.provision(
                keyPEM: image.tpmKeyPEM, authValue: Self.tpmAuthValue, seed: configuration.seed)
            tpm = provisioned.tpm
            let c = provisioned.configuration
            ultravisor = Ultravisor(
                configuration: UltravisorConfiguration(
                    esmCheckPolicy: configuration.esmCheckPolicy == .warn ? .warn : .enforce,
                    wrappingKey: .init(
                        handle: c.handle, password: c.password, publicName: c.publicName, policyA: c.policyA,
                        policyB: c.policyB)))
        } catch {
            throw BootError(input: configuration.tpmKeyPEM == nil ? "TPM key" : "--tpm-key", "\(error)")
        }
        hypervisor = Hypervisor(configuration: HypervisorConfiguration(tpm: tpm))
        do {
            machine = try Machine(
                configuration: MachineConfiguration(
                    memoryBytes: image.memoryBytes, processorCount: image.cpuCount, pefEnabled: true,
                    seed: configuration.seed, traceRecordsDetail: traceDetail, faults: faults))
        } catch {
            throw BootError(input: "--memory/--cpus", "\(error)")
        }
        machine.attach(ultravisor: ultravisor)
        machine.attach(hypervisor: hypervisor)
        _ = hypervisor.configureRTAS(from: image.deviceTree)
        try load()
    }

    /// Writes the segments and the device tree into guest memory as the hypervisor.
    private func load() throws(BootError) {
        do {
            for s in image.segments {
                try machine.memory.write(.hypervisor, at: GuestPhysicalAddress(s.address), bytes: s.bytes, purpose: "load \(s.name)")
            }
            try machine.memory.write(
                .hypervisor, at: GuestPhysicalAddress(image.fdtAddress), bytes: image.deviceTree.bytes, purpose: "load fdt")
        } catch {
            throw BootError(input: "boot image", "cannot load into guest memory: \(error)")
        }
        let boot = machine.bootProcessor
        boot.pc = image.kernelBase
        var regs = Registers()
        regs[3] = image.fdtAddress
        regs[4] = image.kernelBase
        boot.registers = regs
    }

    /// The kernel log so far.
    public var kernelLog: KernelLog { state.withLock { $0.log } }

    /// Boots the guest: prom_init, then (unless the partition stopped) the kernel.
    public func boot() -> BootReport {
        let started = Date()
        var log = KernelLog()
        let outcome = PromInit.run(
            vcpu: machine.bootProcessor, fdtAddress: image.fdtAddress, kernelBase: image.kernelBase,
            scratch: promScratch, log: &log)
        state.withLock {
            $0.log = log
            $0.outcome = outcome
        }
        return report(wallSeconds: Date().timeIntervalSince(started))
    }

    /// The report of the current state.
    public func report(wallSeconds: Double = 0) -> BootReport {
        let (log, outcome) = state.withLock { ($0.log, $0.outcome) }
        let cmdline = KernelCommandLine(image.commandLine)
        let svm = SVMOption(cmdline)
        var esmResult: Int? = nil
        switch outcome {
        case .secure: esmResult = 0
        case .terminated(let s), .failedButContinued(let s, _): esmResult = Int(s)
        case .normal, nil: esmResult = nil
        }
        var osTerm: String? = nil
        if case .osTerm(let m) = machine.stopReason { osTerm = (m ?? "").trimmingCharacters(in: .newlines) }
        let secure = machine.bootProcessor.isSecure
        let pageCounts = machine.memory.pageCountsByState
        var shared: [String: Int] = [:]
        let implicitCount = (pageCounts[.sharedImplicit] ?? 0) + (pageCounts[.sharedImplicitInvalid] ?? 0)
        let pseudoCount = (pageCounts[.pseudoShared] ?? 0) + (pageCounts[.pseudoSharedInvalid] ?? 0)
        let explicitCount = (pageCounts[.shared] ?? 0) + (pageCounts[.sharedInvalid] ?? 0)
        if implicitCount > 0 { shared["ultravisor-implicit"] = implicitCount }
        if pseudoCount > 0 { shared["ultravisor-pseudo"] = pseudoCount }
        if explicitCount > 0 { shared["guest"] = explicitCount }
        var invariants: [String] = []
        if machine.memory.violationCount > 0 {
            invariants.append("\(machine.memory.violationCount) isolation violation(s): "
                + machine.memory.violations.prefix(3).map(\.description).joined(separator: "; "))
        }
        if !secure && explicitCount + implicitCount + pseudoCount > 0 {
            invariants.append("the guest is not secure but \(explicitCount + implicitCount + pseudoCount) page(s) are still shared")
        }
        let reserved = secure
            ? (PromInit.readDeviceTree(vcpu: machine.bootProcessor, at: image.fdtAddress)?.reserveMap.map(\.description) ?? [])
            : []
        return BootReport(
            secure: secure, esmResult: esmResult, osTerm: osTerm, esmChecks: [], sharedPages: shared,
            isolationViolations: machine.memory.violationCount, calls: machine.trace.counts,
            simulatedSeconds: machine.clock.seconds, wallSeconds: wallSeconds, requestedSecure: svm.enabled,
            commandLineDiagnostics: svm.diagnostics.map(\.description), esmFailure: nil,
            stopReason: machine.stopReason?.description.trimmingCharacters(in: .whitespacesAndNewlines),
            invariantFailures: invariants,
            kernelLog: log.lines.map(\.description), console: hypervisor.consoleOutput, reservedRegions: reserved,
            sysfsSVM: secure ? "1" : "0")
    }
}

extension SecureVirtualMachine {
    /// Shared frames by the owner the guest's ledger names (empty until the guest
    /// kernel has shared anything).
    public var sharedPageOwners: [UInt64: String] { [:] }

    /// Guest memory as an SVG picture: page states, owners, and the image's regions.
    public func memoryMapSVG() -> String {
        var regions = image.segments.map {
            MemoryMapPicture.Region(name: $0.name, address: $0.address, size: UInt64($0.bytes.count))
        }
        regions.append(.init(name: "fdt", address: image.fdtAddress, size: UInt64(image.deviceTree.totalSize)))
        let title = "Guest memory: \(image.memoryBytes >> 20) MiB, \(image.cpuCount) vCPU(s), " + (machine.bootProcessor.isSecure ? "secure" : "normal")
        return MemoryMapPicture.svg(memory: machine.memory, owners: sharedPageOwners, regions: regions, title: title)
    }
}
