import DeviceTree
import ESM
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import SecureGuest
import TPM

@testable import Ultravisor

/// Keys and boot images made once for the whole target: RSA key generation is slow in
/// a debug build, and every test boots its own machine from these.
enum SecureBootAssets {
    /// The RAM of the test guests: 256 MiB, the smallest SVMKit boots (RMO top 256 MiB).
    static let memory: UInt64 = 256 << 20
    /// The key the simulated TPM holds at 0x81800001.
    static let tpmKeyPEM: String = (try? TPMProvisioning.generateKeyPEM()) ?? ""
    /// Another key (the "wrong TPM" case).
    static let otherKeyPEM: String = (try? TPMProvisioning.generateKeyPEM()) ?? ""
    /// The command line of every image.
    static let commandLine = "svm=on console=hvc0"

    /// The attachments of ``attachmentsImage``: `rootd`, svm-tools' 204-byte
    /// `file-long` (§4.4), a 64-byte file and a large one (60 000 bytes).
    static let attachments: [String: [UInt8]] = [
        "rootd": Array("3f1c0ffee-disk-passphrase".utf8),
        "file-long": (0..<204).map { UInt8(0x20 + $0 % 90) },
        "exact-64": (0..<64).map { UInt8($0) },
        "big": (0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) },
    ]

    static func configuration() -> BootConfiguration {
        var c = BootConfiguration()
        c.memoryBytes = memory
        c.cpuCount = 4
        c.commandLine = commandLine
        c.tpmKeyPEM = tpmKeyPEM
        return c
    }

    /// The default image: kernel, initrd with the blob (lockbox-1 for ``tpmKeyPEM``)
    /// in front, a `rootd` attachment.
    static let defaultImage: Result<BootImage, BootError> = Result { () throws(BootError) in
        try BootImageBuilder.build(configuration())
    }

    /// An image whose initrd carries a blob with all of ``attachments``.
    static let attachmentsImage: Result<BootImage, BootError> = Result { () throws(BootError) in
        let base = DefaultGuestContent.initrd()
        let blob = try BootImageBuilder.makeBlob(
            tpmKeyPEM: tpmKeyPEM, kernel: DefaultGuestContent.kernel(), initrd: base, commandLine: commandLine,
            attachments: attachments)
        var c = configuration()
        do { c.initrd = try ESMInitrd.addBlob(blob, to: base) } catch { throw BootError(input: "initrd", "\(error)") }
        return try BootImageBuilder.build(c)
    }

    /// The boot-wrapper path: the blob placed by `/chosen/linux,esm-blob-start/-end`,
    /// the initrd without one.
    static let wrapperImage: Result<BootImage, BootError> = Result { () throws(BootError) in
        var c = configuration()
        c.initrd = DefaultGuestContent.initrd()
        c.wrapperBlob = try BootImageBuilder.makeBlob(
            tpmKeyPEM: tpmKeyPEM, kernel: DefaultGuestContent.kernel(), initrd: DefaultGuestContent.initrd(),
            commandLine: commandLine, attachments: ["rootd": attachments["rootd"] ?? []])
        return try BootImageBuilder.build(c)
    }
}

/// One guest booted from a ``BootImage`` as QEMU and SLOF leave it: a machine with an
/// Ultravisor (its `ibm,uv-tpm` wrapping key provisioned from the TPM key) and a
/// hypervisor with that TPM, the segments and the device tree loaded into guest
/// memory through the hypervisor's accessor, the boot vCPU in normal supervisor state.
struct SecureBoot {
    let image: BootImage
    let machine: Machine
    let ultravisor: Ultravisor
    let hypervisor: Hypervisor
    /// The FDT bytes loaded at ``fdtAddress``.
    let loadedFDT: [UInt8]

    var boot: VirtualProcessor { machine.bootProcessor }
    var memory: GuestMemory { machine.memory }
    var fdtAddress: UInt64 { image.fdtAddress.rawValue }
    var kernelBase: UInt64 { image.kernelBase.rawValue }
    /// What prom_init returns when `UV_ESM` took this image secure.
    var secureOutcome: PromInit.Outcome { .secure(fdtAddress: image.fdtAddress, kernelBase: image.kernelBase) }
    var report: ESMReport? { ultravisor.esmReport(lpid: machine.lpid) }

    /// Where prom_init keeps its `os_term_args` (free memory below the kernel).
    static let scratch: UInt64 = 0x1_0000

    /// Boots `image` up to just before prom_init.
    /// - Parameters:
    ///   - tree: a device tree to load instead of the image's.
    ///   - tpmKeyPEM: the key the TPM holds (the image's by default).
    ///   - wrappingKey: `false` for an Ultravisor whose boot FDT has no `ibm,uv-tpm` node.
    init(
        _ image: BootImage, tree: DeviceTree? = nil, policy: ESMCheckPolicy = .enforce, tpmKeyPEM: String? = nil,
        wrappingKey: Bool = true, traceDetail: Bool = true, seed: UInt64 = 7, faults: [FaultRule] = [],
        firmware: FirmwareProfile = .documented
    ) throws {
        self.image = image
        let (tpm, key) = try TPMProvisioning.provision(
            keyPEM: tpmKeyPEM ?? image.tpmKeyPEM, authValue: Array("svmkit".utf8), seed: seed)
        machine = try Machine(
            configuration: MachineConfiguration(
                memoryBytes: image.memoryBytes, processorCount: image.cpuCount, seed: seed,
                traceRecordsDetail: traceDetail, faults: faults))
        ultravisor = Ultravisor(
            configuration: UltravisorConfiguration(
                esmCheckPolicy: policy, wrappingKey: wrappingKey ? key : nil, firmware: firmware))
        hypervisor = Hypervisor(configuration: HypervisorConfiguration(tpm: tpm))
        machine.attach(ultravisor: ultravisor)
        machine.attach(hypervisor: hypervisor)
        for s in image.segments {
            try machine.memory.write(.hypervisor, at: s.address, bytes: s.bytes, purpose: "load \(s.name)")
        }
        loadedFDT = (tree ?? image.deviceTree).bytes
        try machine.memory.write(.hypervisor, at: image.fdtAddress, bytes: loadedFDT, purpose: "load FDT")
    }

    /// Runs prom_init on the boot vCPU.
    func promInit() -> (outcome: PromInit.Outcome, log: KernelLog) {
        var log = KernelLog()
        let outcome = PromInit.run(
            vcpu: boot, fdtAddress: .gpa(fdtAddress), kernelBase: .gpa(kernelBase), scratch: .gpa(Self.scratch),
            log: &log)
        return (outcome, log)
    }

    /// `UV_ESM(kbase, fdt)` straight from the boot vCPU; the registers afterwards.
    @discardableResult
    func enterSecureMode(kernelBase: UInt64? = nil, fdt: UInt64? = nil) -> Registers {
        boot.ultracall(.enterSecureMode, [kernelBase ?? self.kernelBase, fdt ?? fdtAddress])
    }

    /// The FDT as the boot vCPU reads it from guest memory now.
    func guestFDT() -> DeviceTree? { PromInit.readDeviceTree(vcpu: boot, at: .gpa(fdtAddress)) }
}

extension DeviceTree {
    /// A copy with `edit` applied and packed.
    func edited(_ edit: (inout DeviceTree) throws -> Void) throws -> DeviceTree {
        var t = self
        try edit(&t)
        try t.pack()
        return t
    }
}
