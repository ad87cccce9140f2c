public import ESM

/// A range of guest memory the Ultravisor reserved in the SVM's device tree during
/// `UV_ESM` (`svm_fdt_mem_rsv()`; reference/ultravisor-facts.md §2.5).
public struct ESMReservedRegion: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Which handler reserved it and for what: `esmb` (`struct svm_esmb`: the master
    /// key and the digests), `files-fdt` (the blob's attachments), `rtas` (6 bounce
    /// pages), `tss` (the TPM bounce page and the private transfer page).
    public var name: String
    /// First guest physical address (64 KiB aligned).
    public var address: UInt64
    /// Length in bytes.
    public var size: UInt64
    /// The pages of the region the Ultravisor shared implicitly with the hypervisor
    /// (their guest physical addresses).
    public var implicitlyShared: [UInt64]

    /// Makes a record.
    public init(name: String, address: UInt64, size: UInt64, implicitlyShared: [UInt64] = []) {
        self.name = name
        self.address = address
        self.size = size
        self.implicitlyShared = implicitlyShared
    }

    /// e.g. `rtas 0x2ff80000 + 0x60000 (6 implicitly shared)`.
    public var description: String {
        "\(name) 0x\(String(address, radix: 16)) + 0x\(String(size, radix: 16))"
            + (implicitlyShared.isEmpty ? "" : " (\(implicitlyShared.count) implicitly shared)")
    }
}

/// What one `UV_ESM` did, with the exact cause of a failure: the report the real
/// firmware cannot give (its `H_SVM_INIT_ABORT` has no field for a reason; reference/
/// ultravisor-facts.md §2.9). Read it after the call with
/// ``Ultravisor/esmReport(lpid:)``. Encodes as JSON with its property names as keys
/// (the checks as `{check, passed, detail, expected?, actual?}`).
public struct ESMReport: Hashable, Sendable, Codable {
    /// How the call ended.
    public enum Outcome: String, Hashable, Sendable, Codable {
        /// Refused before any state was kept (§2.1): the code is in r3.
        case refused
        /// Aborted before the VM went secure (§2.9): `H_SVM_INIT_ABORT`, the guest got
        /// `H_PARAMETER` and is still a normal VM.
        case aborted
        /// The VM went secure and re-entered the kernel at kbase.
        case secure
        /// The `warn` policy let a failed integrity check through (§0): the VM is
        /// secure anyway.
        case secureDespiteFailedCheck = "secure-despite-failed-check"
        /// The VM went secure and then failed (the FDT write-back): the Ultravisor
        /// terminated it with `ibm,os-term`.
        case terminated
    }

    /// The partition.
    public var lpid: UInt64
    /// r4 of the call: the kernel's base and entry.
    public var kernelBase: UInt64
    /// r5 of the call: the FDT's guest physical address.
    public var fdtAddress: UInt64
    /// The ESM check policy in force.
    public var policy: ESMCheckPolicy
    /// How it ended.
    public var outcome: Outcome
    /// The result the guest sees: 0 when it went secure (the firmware writes no code
    /// then; r3 holds the FDT address), the `U_*` code of a refusal, the hypervisor's
    /// answer to `H_SVM_INIT_ABORT` (`H_PARAMETER`, -4) after an abort, or `U_RETRY`
    /// for a failed FDT write-back.
    public var status: Int64
    /// The step that failed (for `secureDespiteFailedCheck`, the check that failed).
    public var failedStep: ESMStep?
    /// Why, exactly: which check, the expected and actual digests, the missing node or
    /// property.
    public var cause: String?
    /// The integrity checks that ran, in order, passed or not: the preliminary ones
    /// (`rtas-area`, `initrd-range`, `bootargs-property`, `esm-blob`, `attachments`) and
    /// those of ``/ESM/ESMIntegrityCheck`` (`lockbox-1`, `digests-fdt`, `rtas`, `kernel`,
    /// `initrd`, `bootargs`).
    public var checks: [ESMCheck]
    /// The ranges reserved in the FDT, in the order the handlers ran.
    public var reservedRegions: [ESMReservedRegion]
    /// The RTAS area pseudo-shared with the hypervisor (guest physical addresses of its
    /// pages).
    public var pseudoShared: [UInt64]
    /// Where the blob was found: `/chosen/linux,esm-blob-start` or the initrd cpio
    /// entry's name.
    public var blobSource: String?
    /// The attachment names in the blob's files FDT, when it had one.
    public var attachments: [String]
    /// The log of the call, one line per step (also in the trace as the call's notes).
    public var log: [String]
    /// Pages the Ultravisor paged in itself (`get_page_range`), before
    /// `H_SVM_INIT_DONE` migrated the rest.
    public var pagesPagedIn: Int
    /// Simulated nanoseconds the call took.
    public var simulatedNanoseconds: UInt64
    /// Wall-clock seconds the call took on the host.
    public var wallSeconds: Double

    /// Makes a report.
    public init(
        lpid: UInt64, kernelBase: UInt64, fdtAddress: UInt64, policy: ESMCheckPolicy, outcome: Outcome, status: Int64,
        failedStep: ESMStep? = nil, cause: String? = nil, checks: [ESMCheck] = [],
        reservedRegions: [ESMReservedRegion] = [], pseudoShared: [UInt64] = [], blobSource: String? = nil,
        attachments: [String] = [], log: [String] = [], pagesPagedIn: Int = 0, simulatedNanoseconds: UInt64 = 0,
        wallSeconds: Double = 0
    ) {
        self.lpid = lpid
        self.kernelBase = kernelBase
        self.fdtAddress = fdtAddress
        self.policy = policy
        self.outcome = outcome
        self.status = status
        self.failedStep = failedStep
        self.cause = cause
        self.checks = checks
        self.reservedRegions = reservedRegions
        self.pseudoShared = pseudoShared
        self.blobSource = blobSource
        self.attachments = attachments
        self.log = log
        self.pagesPagedIn = pagesPagedIn
        self.simulatedNanoseconds = simulatedNanoseconds
        self.wallSeconds = wallSeconds
    }

    /// Whether the VM went secure (with or without a failed check).
    public var isSecure: Bool { outcome == .secure || outcome == .secureDespiteFailedCheck }

    /// The checks that failed.
    public var failedChecks: [ESMCheck] { checks.filter { !$0.passed } }

    /// Every page the Ultravisor shared during the call, implicitly or pseudo.
    public var sharedPageCount: Int { reservedRegions.reduce(0) { $0 + $1.implicitlyShared.count } + pseudoShared.count }

    /// One line: `UV_ESM: secure` or `UV_ESM failed at digest-check: …`.
    public var summary: String {
        switch outcome {
        case .secure: "UV_ESM: secure"
        case .secureDespiteFailedCheck:
            "UV_ESM: secure despite a failed check at \(failedStep?.rawValue ?? "?"): \(cause ?? "?")"
        case .refused, .aborted, .terminated:
            "UV_ESM \(outcome.rawValue) (\(status)) at \(failedStep?.rawValue ?? "?"): \(cause ?? "?")"
        }
    }
}
