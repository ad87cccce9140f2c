import DeviceTree
import ESM
import Foundation
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import Locking
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
/// Building it lays out the ``BootImage``, makes the `Machine`, sets up the TPM
/// behind `H_TPM_COMM` (the embedded software TPM provisioned with the image's key at
/// persistent handle 0x81800001, or the configured external TPM such as swtpm), gives
/// the Ultravisor the matching wrapping-key parameters (its `ibm,uv-tpm` node), and
/// loads the image into guest memory as QEMU and SLOF would, through the
/// hypervisor's accessor. ``boot(kernelOptions:bugs:)`` then runs the guest kernel: prom_init
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
    /// The TPM holding the image's key, which the hypervisor's `H_TPM_COMM` forwards to:
    /// the embedded `SoftwareTPM` or the external TPM's backend (e.g. a
    /// `SwtpmBackend`).
    public let tpm: any TPMBackend
    /// The embedded software TPM, or nil when the key is in an external TPM.
    public let softwareTPM: SoftwareTPM?
    /// What went over `H_TPM_COMM`: the hypervisor's backend is this wrapper around
    /// ``tpm``, which counts commands and keeps the transport failures (the causes of
    /// `H_RESOURCE`).
    public let tpmActivity: RecordingTPMBackend
    /// What the guest booted with.
    public let configuration: BootConfiguration

    private let state = Lock(State())
    private struct State: Sendable {
        var log = KernelLog()
        var outcome: PromInit.Outcome?
        var kernel: GuestKernel?
        var guestReport: GuestBootReport?
        var kernelError: String?
        var kexec: KexecReport?
        /// The audit taken right after the last kexec.
        var kexecAudit: SharedPageAuditReport?
        var audits: [SharedPageAuditReport] = []
        /// Frames the last kexec left explicitly shared for the next kernel.
        var inheritedShares: Set<GuestFrameNumber> = []
        /// The deliberate bugs the guest was booted with.
        var bugs: Set<GuestBug> = []
        /// What ``exerciseBlockDevice(bytes:)`` found, if it ran.
        var blockDeviceCheck: BlockDeviceCheck?
        /// Faults found outside the current kernel's own records: those the kernels
        /// before a kexec recorded, and vCPUs a kernel could not start.
        var earlierFaults: [String] = []
        /// Frames an earlier kernel believed shared because it ignored a failed share's
        /// status (the hypervisor's accesses to them are findings about Linux).
        var ignoredStatusFrames: Set<GuestFrameNumber> = []
    }

    /// The auth value SVMKit provisions the TPM key with.
    public static let tpmAuthValue = Array("svmkit-wrapping-key".utf8)
    /// Where prom_init keeps its static data (`os_term_args`): just past the kernel image.
    var promScratch: UInt64 {
        let kernelEnd = (image.segment("kernel")?.end ?? image.kernelBase).rawValue
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
        let wrappingKey: TPMWrappingKeyConfiguration
        switch configuration.tpm {
        case .embedded:
            do {
                let provisioned = try TPMProvisioning.provision(
                    keyPEM: image.tpmKeyPEM, authValue: Self.tpmAuthValue, seed: configuration.seed)
                softwareTPM = provisioned.tpm
                tpm = provisioned.tpm
                wrappingKey = provisioned.configuration
            } catch {
                throw BootError(input: configuration.tpmKeyPEM == nil ? "TPM key" : "--tpm-key", "\(error)")
            }
        case .external(let external):
            softwareTPM = nil
            tpm = external.backend
            wrappingKey = external.wrappingKey
        }
        ultravisor = Ultravisor(
            configuration: UltravisorConfiguration(
                esmCheckPolicy: configuration.effectiveESMCheckPolicy, wrappingKey: wrappingKey,
                firmware: configuration.firmware))
        tpmActivity = RecordingTPMBackend(tpm)
        hypervisor = Hypervisor(configuration: HypervisorConfiguration(tpm: tpmActivity))
        do {
            machine = try Machine(
                configuration: MachineConfiguration(
                    memoryBytes: image.memoryBytes, processorCount: image.cpuCount, pefEnabled: true,
                    seed: configuration.seed, traceRecordsDetail: traceDetail, faults: faults,
                    hypervisorTouch: configuration.hypervisorTouch))
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
                try machine.memory.write(.hypervisor, at: s.address, bytes: s.bytes, purpose: "load \(s.name)")
            }
            try machine.memory.write(
                .hypervisor, at: image.fdtAddress, bytes: image.deviceTree.bytes, purpose: "load fdt")
        } catch {
            throw BootError(input: "boot image", "cannot load into guest memory: \(error)")
        }
        let boot = machine.bootProcessor
        boot.update { $0.pc = image.kernelBase.rawValue }
        var regs = Registers()
        regs[3] = image.fdtAddress.rawValue
        regs[4] = image.kernelBase.rawValue
        boot.update { $0.registers = regs }
    }

    /// The kernel log so far (prom_init's lines, then the running kernel's).
    public var kernelLog: KernelLog { state.withLock { $0.kernel?.log ?? $0.log } }

    /// The running guest kernel, once ``boot(kernelOptions:bugs:)`` got that far.
    public var kernel: GuestKernel? { state.withLock { $0.kernel } }

    /// Boots the guest: prom_init (`svm=`, `UV_ESM`, the os-term path), then, unless
    /// the partition stopped, the kernel proper (shared LPPACAs, SWIOTLB, DTLs, sysfs).
    /// - Parameters:
    ///   - kernelOptions: the guest kernel's options (deliberate bugs included); its
    ///     `linux` and `dmaPath` are replaced by the configuration's
    ///     (``BootConfiguration/linux``, ``BootConfiguration/dmaPath``).
    ///   - bugs: deliberate bugs by name (issue 8 item 4), added to `kernelOptions`'
    ///     after `UV_ESM`, when the page `touch-implicit-page` touches can be looked up
    ///     (`GuestKernelOptions.touchAfterBootAddress`, unless `kernelOptions` names
    ///     one). A run with bugs tolerates isolation violations in its invariants; they
    ///     are still counted and reported.
    public func boot(kernelOptions: GuestKernelOptions = GuestKernelOptions(), bugs: Set<GuestBug> = []) -> BootReport {
        let started = Date()
        var log = KernelLog()
        let outcome = PromInit.run(
            vcpu: machine.bootProcessor, fdtAddress: image.fdtAddress,
            kernelBase: image.kernelBase, scratch: GuestPhysicalAddress(promScratch), log: &log)
        state.withLock {
            $0.log = log
            $0.outcome = outcome
            $0.bugs = bugs
        }
        var options = kernelOptions
        options.linux = configuration.linux
        options.dmaPath = configuration.dmaPath
        options = options.adding(bugs: bugs, memory: machine.memory)
        switch outcome {
        case .secure, .normal, .normalAfterSuccess, .failedButContinued:
            startKernel(log: log, options: options)
        case .terminated, .panicked:
            // os-term stopped the partition, or prom_panic() left it spinning in
            // Open Firmware (prom_init.c: prom_panic (6.12)): no kernel runs.
            break
        }
        return report(wallSeconds: Date().timeIntervalSince(started))
    }

    /// Starts a guest kernel on the image's device tree (after prom_init, or after kexec).
    private func startKernel(log: KernelLog, options: GuestKernelOptions) {
        var o = options
        o.kernelSize = UInt64(image.segment("kernel")?.bytes.count ?? 0)
        let kernel = GuestKernel(
            machine: machine, options: o, log: log, pagesLeftPrivate: Self.pagesLeftPrivate(on: machine))
        state.withLock { $0.kernel = kernel }
        do {
            let r = try kernel.start(
                fdtAddress: image.fdtAddress, kernelBase: image.kernelBase)
            // smp_startup_cpu() failing leaves a vCPU down ("Processor N is stuck."): a
            // fault of this boot, kept across a later kexec.
            let stuck = kernel.processors.filter { !$0.snapshot.isRunning }.map {
                "vCPU \($0.index) is not running: the kernel could not start it (Processor \($0.index) is stuck.)"
            }
            state.withLock {
                $0.guestReport = r
                $0.audits.append(kernel.audit("after boot"))
                $0.earlierFaults += stuck
            }
        } catch {
            state.withLock { $0.kernelError = "\(error)" }
        }
    }

    /// Models `default_machine_kexec()` followed by the next kernel's boot: a normal
    /// kexec of a secure guest unshares everything (`UV_UNSHARE_ALL_PAGES`), a crash
    /// or preserve-context kexec does not; the next kernel starts with MSR(S) still
    /// set and shares its own structures again. Both audits go into the report. If the
    /// partition stopped during the switchover (the Ultravisor kills an SVM whose
    /// unshare fails), no next kernel starts.
    @discardableResult
    public func kexec(_ kind: KexecKind) -> BootReport {
        guard let kernel = self.kernel else { return report() }
        // Statuses the kernel ignored, as it stands before the switchover (a successful
        // UV_UNSHARE_ALL_PAGES settles its ledger, and the evidence with it).
        let ignoredBefore = kernel.diagnose().filter { $0.kind == .ignoredStatus }
        let failedShares = kernel.ledger.failedShares
        state.withLock { $0.ignoredStatusFrames.formUnion(failedShares) }
        do {
            let k = try kernel.kexec(kind)
            let audit = kernel.audit("after kexec (\(kind.rawValue))")
            // What the Ultravisor still holds shared for the next kernel: nothing after a
            // normal kexec whose UV_UNSHARE_ALL_PAGES worked; otherwise every explicit
            // share left. The next kernel is told nothing about them
            // (arch/powerpc/kexec/file_load_64.c: setup_new_fdt_ppc64 (6.12) passes a
            // crash kernel its linux,usable-memory and the crashkernel reservation, no
            // record of shares): its ledger starts empty.
            let inherited: Set<GuestFrameNumber> =
                kind == .normal && !k.unshareAllReportedFailure
                ? [] : Set(machine.memory.frames(where: \.isExplicitShare))
            state.withLock {
                $0.kexec = k
                $0.kexecAudit = audit
                $0.audits.append(audit)
                $0.inheritedShares = inherited
            }
        } catch {
            state.withLock { $0.kernelError = "kexec: \(error)" }
            return report()
        }
        // The Ultravisor may have killed the SVM during the switchover (a failed
        // unshare is svm_abort): then there is no next kernel to start.
        guard !machine.isStopped else { return report() }
        // The kernel's own records and the statuses it ignored as Linux does (the
        // machine's violations are read again by the next kernel's diagnosis).
        var ignored = ignoredBefore
        for f in kernel.diagnose() where f.kind == .ignoredStatus && !ignored.contains(f) { ignored.append(f) }
        let faults = (kernel.faults + ignored).map { "before kexec (\(kind.rawValue)): \($0)" }
        state.withLock { $0.earlierFaults += faults }
        var options = kernel.options
        // The loader keeps a crash (or preserve-context) kernel off the previous kernel's
        // memory (setup_new_fdt_ppc64 (6.12) reserves the crashed kernel's RAM), which
        // holds every page it shared; a normal kexec's next kernel gets all of RAM.
        options.kexecReservations =
            kind == .normal
            ? [] : (kernel.memblock?.reserved ?? []).filter { !Self.imagePurposes.contains($0.purpose) }
        startKernel(log: kernel.log, options: options)
        return report()
    }

    /// The report of the current state.
    public func report(wallSeconds: Double = 0) -> BootReport {
        let (log, outcome) = state.withLock { ($0.log, $0.outcome) }
        let cmdline = KernelCommandLine(image.commandLine)
        let svm = SVMOption(cmdline)
        var esmResult: Int? = nil
        switch outcome {
        case .secure, .normalAfterSuccess: esmResult = 0
        case .terminated(let s), .panicked(let s, _), .failedButContinued(let s, _): esmResult = Int(s)
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
        let (kernel, guestReport, kexecReport, audits, bugs, blockDeviceCheck, earlierFaults, kexecAudit) =
            state.withLock {
                ($0.kernel, $0.guestReport, $0.kexec, $0.audits, $0.bugs, $0.blockDeviceCheck, $0.earlierFaults,
                 $0.kexecAudit)
            }
        if let kernel {
            shared.removeValue(forKey: "guest")
            for (owner, n) in kernel.ledger.countsByOwner { shared[owner.rawValue] = n }
        }
        var invariants = invariantViolations().map(\.description)
        let guestFaults = earlierFaults + (kernel?.diagnose().map(\.description) ?? [])
        if !bugs.isEmpty && guestFaults.isEmpty {
            invariants.append(
                "buggy guest: " + bugs.map(\.rawValue).sorted().joined(separator: ", ") + " ran and nothing caught it")
        }
        let reserved = secure
            ? (PromInit.readDeviceTree(vcpu: machine.bootProcessor, at: image.fdtAddress)?
                .reserveMap.map(\.description) ?? [])
            : []
        let esm = ultravisor.esmReport(lpid: machine.lpid)
        let checks = (esm?.checks ?? []).map { BootReport.Check(check: $0.name, passed: $0.passed, detail: $0.detail) }
        var esmFailure: String? = nil
        if let esm, let cause = esm.cause {
            esmFailure = (esm.failedStep.map { "\($0): " } ?? "") + cause
        }
        var report = BootReport(
            secure: secure, esmResult: esmResult, osTerm: osTerm, esmChecks: checks, sharedPages: shared,
            isolationViolations: machine.memory.violationCount, calls: machine.trace.counts,
            simulatedSeconds: machine.clock.seconds, wallSeconds: wallSeconds, requestedSecure: svm.enabled,
            commandLineDiagnostics: svm.diagnostics.map(\.description), esmFailure: esmFailure,
            stopReason: machine.stopReason?.description.trimmingCharacters(in: .whitespacesAndNewlines),
            invariantFailures: invariants,
            kernelLog: (kernel?.log ?? log).lines.map(\.description), console: hypervisor.consoleOutput,
            reservedRegions: reserved, sysfsSVM: guestReport?.sysfsSVM.trimmingCharacters(in: .whitespacesAndNewlines) ?? (secure ? "1" : "0"),
            audits: audits.map(\.description), kexec: kexecReport.map { k in kexecAudit.map { "\(k); \($0)" } ?? k.description }, bugs: bugs.map(\.rawValue).sorted(),
            guestFaults: guestFaults, blockDeviceCheck: blockDeviceCheck, diagnoses: diagnoses())
        report.linux = configuration.linux.rawValue
        report.linuxProfile = LinuxProfileSummary(configuration.linux)
        report.swiotlbPool = kernel.map { k in
            let pool = k.swiotlbPool
            return SWIOTLBPoolReport(
                present: pool != nil, forced: k.dmaForcedBounce, base: pool?.region.base, bytes: pool?.region.size ?? 0,
                allocator: pool?.allocator)
        }
        report.hang = kernel?.swiotlbHang
        report.disk = configuration.disk.rawValue
        return report
    }

    /// Every invariant of ``InvariantChecker`` that does not hold now, in words: the call
    /// to make between operations (a soak, a fault scenario). A run booted with
    /// deliberate bugs tolerates isolation violations.
    public func checkInvariants() -> [String] { invariantViolations().map(\.description) }

    /// Every invariant of ``InvariantChecker`` that does not hold now.
    public func invariantViolations() -> [InvariantViolation] {
        let s = state.withLock { $0 }
        let checker = InvariantChecker(toleratesIsolationViolations: !s.bugs.isEmpty)
        return checker.check(
            InvariantChecker.Subject(
                machine: machine, ultravisor: ultravisor, hypervisor: hypervisor, kernel: s.kernel, kexec: s.kexec,
                kexecAudit: s.kexecAudit, kernelError: s.kernelError ?? Self.panicAfterBoot(s.kernel),
                inheritedShares: s.inheritedShares,
                ignoredStatusFrames: s.ignoredStatusFrames))
    }

    /// Why a kernel that booted stopped later (5.x's panic in `swiotlb_tbl_map_single()`
    /// when bouncing is forced and there is no pool), or `nil`; a boot that failed is
    /// already in `kernelError`. Before this, such a panic was only a kernel log line.
    static func panicAfterBoot(_ kernel: GuestKernel?) -> String? {
        guard case .failed(let reason) = kernel?.phase else { return nil }
        return reason
    }

    /// Every finding about Linux now (``InvariantChecker/findings(_:)``): what the guest
    /// did because it ignores the Ultravisor's status, as Linux does. Never an
    /// invariant failure.
    public func linuxFindings() -> [InvariantChecker.Finding] {
        let s = state.withLock { $0 }
        return InvariantChecker().findings(
            InvariantChecker.Subject(
                machine: machine, ultravisor: ultravisor, hypervisor: hypervisor, kernel: s.kernel, kexec: s.kexec,
                kexecAudit: s.kexecAudit, kernelError: s.kernelError, inheritedShares: s.inheritedShares,
                ignoredStatusFrames: s.ignoredStatusFrames))
    }

    /// The memblock purposes of the boot image, which every kernel reserves itself.
    static let imagePurposes: Set<String> = ["kernel", "device tree", "reserve-map", "initrd", "rtas"]

    /// The explicit shares the Ultravisor still held after the last kexec (empty after a
    /// normal kexec whose `UV_UNSHARE_ALL_PAGES` worked): an observer's record. The next
    /// kernel is told nothing about them, as in Linux.
    public var sharesLeftByKexec: Set<GuestFrameNumber> { state.withLock { $0.inheritedShares } }

    /// The observer's probe a kernel's ledger uses for ``SharedPageLedger/failedShares``:
    /// the frames of a failed share that are not explicitly shared now.
    static func pagesLeftPrivate(on machine: Machine) -> GuestKernel.PagesLeftPrivateProbe {
        { [weak machine] first, count in
            guard let memory = machine?.memory else { return [] }
            return (0..<count).map { GuestFrameNumber(first.rawValue + $0) }.filter {
                !(memory.state(of: $0)?.isExplicitShare ?? false)
            }
        }
    }

    /// Records what ``exerciseBlockDevice(bytes:)`` found.
    func recordBlockDeviceCheck(_ check: BlockDeviceCheck) { state.withLock { $0.blockDeviceCheck = check } }
}

extension SecureVirtualMachine {
    /// Shared frames by the owner the guest's ledger names (empty until the guest
    /// kernel has shared anything).
    public var sharedPageOwners: [UInt64: String] {
        guard let kernel else { return [:] }
        return Dictionary(uniqueKeysWithValues: kernel.ledger.entries.map { ($0.key.rawValue, $0.value.owner.rawValue) })
    }

    /// Guest memory as an SVG picture: page states, owners, and the image's regions.
    public func memoryMapSVG() -> String {
        var regions = image.segments.map {
            MemoryMapPicture.Region(name: $0.name, address: $0.address.rawValue, size: UInt64($0.bytes.count))
        }
        regions.append(.init(name: "fdt", address: image.fdtAddress.rawValue, size: UInt64(image.deviceTree.totalSize)))
        let title = "Guest memory: \(image.memoryBytes >> 20) MiB, \(image.cpuCount) vCPU(s), " + (machine.bootProcessor.isSecure ? "secure" : "normal")
        return MemoryMapPicture.svg(memory: machine.memory, owners: sharedPageOwners, regions: regions, title: title)
    }
}
