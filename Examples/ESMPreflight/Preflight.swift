import SVMKit

/// The checks of a preflight, in the order the guest and the Ultravisor meet them.
enum Preflight {
    /// What a preflight found.
    struct Result {
        /// Every check, passed or not.
        var checks: [ESMCheck]
        /// Where the blob was found, and anything worth knowing that is not a failure.
        var notes: [String]
        /// Whether every check passed.
        var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
        /// e.g. `7 checks, all passed` or `2 of 7 checks failed: kernel, bootargs`.
        var summary: String {
            let failed = checks.filter { !$0.passed }.map(\.name)
            return failed.isEmpty
                ? "\(checks.count) checks, all passed"
                : "\(failed.count) of \(checks.count) checks failed: \(failed.joined(separator: ", "))"
        }
    }

    /// The most bytes of `files-fdt` that fit the page the Ultravisor copies it into
    /// (reference/ultravisor-facts.md §2.6 step 5: the copy has no size check).
    static let filesFDTPage = 64 << 10

    /// Runs every check on `inputs`.
    static func run(_ inputs: PreflightInputs) -> Result {
        var checks: [ESMCheck] = []
        var notes: [String] = []

        // prom_init: no svm=on, no UV_ESM (reference/linux-guest-facts.md §1.1).
        let svm = SVMOption(KernelCommandLine(inputs.commandLine))
        checks.append(
            ESMCheck(
                name: "svm=", passed: svm.enabled,
                detail: svm.enabled
                    ? "the command line asks prom_init to call UV_ESM"
                    : "the command line does not say svm=on: prom_init will not call UV_ESM and the guest stays normal"))
        notes += svm.diagnostics.map(\.description)

        // The key and the blob, found in the initrd as svm_esm_cpio_esmb() finds it.
        let key: ESMPrivateKey
        let location: ESMBlobLocation
        let blob: ESMBlob
        do {
            key = try ESMPrivateKey(pemFileBytes: Array(inputs.keyPEM.utf8), source: "--key")
            location = try ESMBlobLocator.locate(inInitrd: inputs.initrd)
            blob = try ESMBlob(bytes: location.blob)
        } catch {
            checks.append(ESMCheck(name: "ESM blob", passed: false, detail: "\(error)"))
            return Result(checks: checks, notes: notes)
        }
        notes.append(
            "blob: \(location.entryName) at offset \(location.blobOffset) of the initrd; "
                + "the initrd is hashed from offset \(location.hashedRange.lowerBound) (\(location.hashedRange.count) bytes)")
        notes += location.notes
        if let opened = try? blob.masterKeyAndLockbox(using: key), opened.lockbox != ESMBlob.ultravisorLockboxName {
            notes.append("this key opens \(opened.lockbox), not lockbox-1, which the Ultravisor opens with the TPM's key")
        }

        // The attachments must fit the Ultravisor's page.
        let filesBytes = blob.filesFDTBytes?.count ?? 0
        checks.append(
            ESMCheck(
                name: "files-fdt", passed: filesBytes <= filesFDTPage,
                detail: filesBytes == 0
                    ? "no attachments"
                    : "\(filesBytes) bytes of attachments, \(filesBytes <= filesFDTPage ? "within" : "more than") the Ultravisor's \(filesFDTPage)-byte page"))

        // svm_esmb_digest_chk(): lockbox-1, the digests, and the four SHA-512s.
        let kernel = inputs.kernel
        let report = ESMIntegrityCheck.run(
            blob: location.blob, unwrapMasterKey: ESMIntegrityCheck.keyUnwrapper(privateKey: key, blob: blob),
            rtasText: ESMDigests.slofRTASStub,
            readKernel: { $0 <= kernel.count ? Array(kernel.prefix($0)) : nil },
            initrd: Array(inputs.initrd[location.hashedRange]),
            bootargsProperty: Array(inputs.commandLine.utf8) + [0])
        checks += report.checks
        return Result(checks: checks, notes: notes)
    }
}
