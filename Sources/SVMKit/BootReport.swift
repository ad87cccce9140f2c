/// The outcome of a boot, as `svmkit boot --json` prints it.
///
/// The top-level keys `secure`, `esmResult`, `osTerm`, `esmChecks`, `sharedPages`,
/// `isolationViolations`, `calls`, `simulatedSeconds` and `wallSeconds` are a
/// contract with scripts (issue "Secure boot end to end", item 6); the others are
/// additions.
public struct BootReport: Hashable, Sendable, Codable {
    /// One integrity check of the ESM flow.
    public struct Check: Hashable, Sendable, Codable {
        /// Which check, e.g. `kernel digest`.
        public var check: String
        /// Whether it passed.
        public var passed: Bool
        /// Expected and actual values, or what was missing.
        public var detail: String

        /// Makes a check.
        public init(check: String, passed: Bool, detail: String) {
            self.check = check
            self.passed = passed
            self.detail = detail
        }
    }

    /// Whether the guest ended with MSR(S) = 1.
    public var secure: Bool
    /// `UV_ESM`'s result as the guest saw it, or `nil` when no `UV_ESM` was made.
    public var esmResult: Int?
    /// The `ibm,os-term` message, if the partition terminated that way.
    public var osTerm: String?
    /// The ESM integrity checks, in order.
    public var esmChecks: [Check]
    /// Shared pages by owner (guest owners from the ledger; `ultravisor-implicit` and
    /// `ultravisor-pseudo` for the Ultravisor's own shares).
    public var sharedPages: [String: Int]
    /// Hypervisor (or normal-vCPU) accesses to secure memory, in either mode of
    /// `--hv-touch`: paged out so the hypervisor saw ciphertext (the default, as on
    /// hardware), or stopped.
    public var isolationViolations: Int
    /// Calls by opcode name.
    public var calls: [String: Int]
    /// Simulated time at the end of the boot.
    public var simulatedSeconds: Double
    /// Host time the boot took.
    public var wallSeconds: Double

    /// What the command line asked for (`svm=`, read as SVMKit reads it).
    public var requestedSecure: Bool
    /// Where Linux's prom_init would read the command line differently, and ignored values.
    public var commandLineDiagnostics: [String]
    /// Why the Ultravisor failed `UV_ESM`, when it did: the step and the exact cause.
    public var esmFailure: String?
    /// Why the partition stopped, if it did.
    public var stopReason: String?
    /// Invariant violations found after the boot (empty when all hold).
    public var invariantFailures: [String]
    /// The guest kernel's log.
    public var kernelLog: [String]
    /// What the hypervisor's console received.
    public var console: String
    /// The Ultravisor's reserve-map entries in the device tree after `UV_ESM`.
    public var reservedRegions: [String]
    /// `/sys/devices/system/cpu/svm` as the guest reads it ("0" or "1").
    public var sysfsSVM: String
    /// Shared-page audits (guest ledger against the page states), in order: after
    /// boot, after kexec, after the next kernel's boot.
    public var audits: [String] = []
    /// The kexec report, when one ran.
    public var kexec: String?
    /// The deliberate bugs the guest ran with (`--bug`), by name.
    public var bugs: [String] = []
    /// Every fault found in the guest's run, each naming the culprit: what the kernel
    /// noticed itself (failed shares, quarantines, refused registrations, SWIOTLB
    /// misuse), each isolation violation or SVM kill attributed to the kernel object
    /// whose page it was (`GuestKernel.diagnose()`), a vCPU the kernel could not start,
    /// and the faults of the kernels before a kexec.
    public var guestFaults: [String] = []
    /// What a block-device round trip through the bounce pool found, when one ran;
    /// `corrupted` is true when the disk received ciphertext.
    public var blockDeviceCheck: BlockDeviceCheck?
    /// One finding per secure page the hypervisor touched: its guest owner, the first
    /// consequence observed and the likely cause (``SecureVirtualMachine/diagnoses()``).
    public var diagnoses: [Diagnosis] = []
    /// The Linux series the guest behaved as (`--linux`), e.g. `6.12`.
    public var linux: String?
    /// What the `--linux` profile models differently, with citations
    /// (``LinuxProfileSummary``).
    public var linuxProfile: LinuxProfileSummary?
    /// The guest kernel's SWIOTLB pool (``SWIOTLBPoolReport``), when a kernel ran.
    public var swiotlbPool: SWIOTLBPoolReport?
    /// The map on which the guest hung in 6.1's `swiotlb_do_find_slots()`
    /// (`SWIOTLBScanHang`: the request, the function, the fix), or `nil`.
    public var hang: SWIOTLBScanHang?
    /// Which driver the virtual disk had (`--disk`): `virtio` or `nvme`.
    public var disk: String?

    /// Whether the guest ended where the command line asked, with every invariant
    /// holding, no fault found in its run, no hang, and a block round trip (if one ran) intact.
    public var endedAsRequested: Bool {
        secure == requestedSecure && osTerm == nil && invariantFailures.isEmpty && guestFaults.isEmpty
            && blockDeviceCheck?.passed != false && hang == nil
    }
}

extension BootReport {
    private enum CodingKeys: String, CodingKey {
        case secure, esmResult, osTerm, esmChecks, sharedPages, isolationViolations, calls, simulatedSeconds,
            wallSeconds, requestedSecure, commandLineDiagnostics, esmFailure, stopReason, invariantFailures, kernelLog,
            console, reservedRegions, sysfsSVM, audits, kexec, bugs, guestFaults, blockDeviceCheck, diagnoses,
            linux, linuxProfile, swiotlbPool, hang, disk
    }

    /// Encodes every key, writing `null` for absent optionals (`esmResult`, `osTerm`,
    /// `esmFailure`, `stopReason`, `kexec`, `blockDeviceCheck`, `swiotlbPool`, `hang`, `disk`) so that
    /// scripts always find them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(secure, forKey: .secure)
        try c.encode(esmResult, forKey: .esmResult)
        try c.encode(osTerm, forKey: .osTerm)
        try c.encode(esmChecks, forKey: .esmChecks)
        try c.encode(sharedPages, forKey: .sharedPages)
        try c.encode(isolationViolations, forKey: .isolationViolations)
        try c.encode(calls, forKey: .calls)
        try c.encode(simulatedSeconds, forKey: .simulatedSeconds)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(requestedSecure, forKey: .requestedSecure)
        try c.encode(commandLineDiagnostics, forKey: .commandLineDiagnostics)
        try c.encode(esmFailure, forKey: .esmFailure)
        try c.encode(stopReason, forKey: .stopReason)
        try c.encode(invariantFailures, forKey: .invariantFailures)
        try c.encode(kernelLog, forKey: .kernelLog)
        try c.encode(console, forKey: .console)
        try c.encode(reservedRegions, forKey: .reservedRegions)
        try c.encode(sysfsSVM, forKey: .sysfsSVM)
        try c.encode(audits, forKey: .audits)
        try c.encode(kexec, forKey: .kexec)
        try c.encode(bugs, forKey: .bugs)
        try c.encode(guestFaults, forKey: .guestFaults)
        try c.encode(blockDeviceCheck, forKey: .blockDeviceCheck)
        try c.encode(diagnoses, forKey: .diagnoses)
        try c.encode(linux, forKey: .linux)
        try c.encode(linuxProfile, forKey: .linuxProfile)
        try c.encode(swiotlbPool, forKey: .swiotlbPool)
        try c.encode(hang, forKey: .hang)
        try c.encode(disk, forKey: .disk)
    }
}
