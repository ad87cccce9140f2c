/// A step of `UV_ESM` (`syscall_ultracall_esm_svm()` and `uv_esm_svm()` in
/// `open-power/ultravisor core/uvcall.c`; reference/ultravisor-facts.md §2), in the
/// order the firmware runs them. An ``ESMReport`` names the step that failed.
public enum ESMStep: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// §2.1: kbase ≠ 0 (`U_P2`), fdt ≠ 0 (`U_P3`), LPIDR ≠ 0 and a supervisor caller
    /// (`U_PERMISSION`).
    case entryChecks = "entry-checks"
    /// §2.1 step 5: `create_svm`; an SVM that already exists gives `U_RETRY`.
    case createSVM = "create-svm"
    /// §2.3: `H_SVM_INIT_START` (the hypervisor registers the memory slots).
    case initStart = "h-svm-init-start"
    /// §2.5 step 1: page in the FDT's first 64 KiB, `fdt_check_header`, page in the rest.
    case fdtPageIn = "fdt-page-in"
    /// §2.5 step 1: `fdt_check_header`.
    case fdtHeader = "fdt-header"
    /// §2.5 step 2: ALIGN_UP(totalsize, 64 KiB) × 2 must fit the 2 MiB workspace.
    case fdtSize = "fdt-size"
    /// §2.5 step 2: `fdt_open_into` the working copy.
    case fdtOpen = "fdt-open"
    /// §2.5 step 3: `/memory@0` `reg`, base 0, RMO top capped at 768 MiB.
    case rmoTop = "rmo-top"
    /// §2.5 step 4, `svm_esmb`: the ESM data page and the files-FDT page.
    case esmbReservation = "svm-esmb"
    /// §2.5 step 4, `svm_rtas`: RTAS tokens (`stop-self` and the 11 mandatory ones).
    case rtasTokens = "rtas-tokens"
    /// §2.5 step 4, `svm_rtas`: vcpus.max from `ibm,lrdr-capacity` (≤ 4096).
    case vcpuLimit = "vcpu-limit"
    /// §2.5 step 4, `svm_rtas`: the 6 RTAS bounce pages, implicitly shared.
    case rtasReservation = "svm-rtas"
    /// §2.5 step 4, `svm_tss`: the TPM bounce page (implicitly shared) and the
    /// private transfer page.
    case tssReservation = "svm-tss"
    /// §2.6 step 1: the RTAS area, paged in and pseudo-shared.
    case rtasArea = "rtas-area"
    /// §2.6 step 2: the initrd (mandatory).
    case initrd = "initrd"
    /// §2.6 step 3: `/chosen/bootargs` (mandatory).
    case bootargs = "bootargs"
    /// §2.6 step 4: the ESM blob, by the wrapper properties or in the initrd's cpio.
    case blobDiscovery = "esm-blob"
    /// §2.6 step 5: the blob's files FDT copied to its reserved page (a failure is only
    /// a notice).
    case attachments = "attachments"
    /// §2.6 step 6: `lockbox-1` unwrapped by the TPM, the digests FDT decrypted and
    /// the RTAS, kernel, initrd and bootargs digests compared.
    case digestCheck = "digest-check"
    /// §0: with the `warn` policy after a failed check, every memory slot is paged in
    /// (`svm_populate_kernel`).
    case populate = "populate"
    /// §2.8 step 1: `H_SVM_INIT_DONE`.
    case initDone = "h-svm-init-done"
    /// §2.8 step 2: `find_boot_vcpu` (`boot_cpuid_phys` < vcpus.max).
    case bootVCPU = "boot-vcpu"
    /// §2.8 steps 3–4: `svm_esm_commit` and the return frame.
    case commit = "commit"
    /// §2.8 step 5: `svm_fdt_finalize`, the FDT packed and written back.
    case fdtWriteBack = "fdt-write-back"

    /// The raw value, e.g. `digest-check`.
    public var description: String { rawValue }

    /// Whether a failure here is one of the integrity checks of §2.6, which the `warn`
    /// policy lets through (§0).
    public var isIntegrityCheck: Bool {
        switch self {
        case .rtasArea, .initrd, .bootargs, .blobDiscovery, .digestCheck: true
        default: false
        }
    }
}
