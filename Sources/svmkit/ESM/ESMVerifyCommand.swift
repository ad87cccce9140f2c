import ArgumentParser
import ESM
import Foundation
import SVMKit

/// `svmkit esm verify`: the Ultravisor's checks, run before boot.
struct ESMVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Run every check the Ultravisor makes at UV_ESM, and say which fail and why.",
        discussion: """
            Finds the blob in --initrd as the Ultravisor does (first non-empty entry under \
            opt/ibm/pef, FDT magic, hashed initrd after the archive), unwraps lockbox-1 with \
            --key (the TPM's key; the origin key or another authorized key also works, with \
            a note), decrypts the digests and compares the SHA-512 of the RTAS text (SLOF's \
            20-byte stub unless --rtas), the kernel, the initrd and the command line, giving \
            the expected and actual digests of each failure.

            --linux V (repeatable: 5.4, 5.10, 6.1, 6.12) also warns on standard error when \
            that kernel needs swiotlb=force for a secure guest's bounce pool (6.1, 6.12) and \
            the bootargs lack it, naming the affected series and the line to use instead. \
            The warning never changes the exit status.

            Exit status: 0 every check passes; 1 a check fails; 2 bad input.

            Examples:
              svmkit esm verify --kernel vmlinux.bin --initrd initrd-esm.img \\
                  --cmdline "svm=on console=hvc0" --key keys/tpm-seckey.pem
              svmkit esm verify --kernel vmlinux.bin --initrd initrd.img --blob esmb.dtb \\
                  --cmdline "svm=on" --key keys/owner-seckey.pem --json
              svmkit esm verify --kernel vmlinux.bin --initrd initrd-esm.img \\
                  --cmdline "svm=on" --key keys/tpm-seckey.pem --linux 6.12
            """
    )

    @Option(help: ArgumentHelp("The kernel image as loaded at kbase.", valueName: "FILE"))
    var kernel: String

    @Option(help: ArgumentHelp("The initrd as loaded (with the blob's archive in front, unless --blob).", valueName: "FILE"))
    var initrd: String

    @Option(help: ArgumentHelp("/chosen/bootargs, exactly.", valueName: "STRING"))
    var cmdline: String

    @Option(help: ArgumentHelp("The private key that opens lockbox-1 (or another lockbox).", valueName: "PEM"))
    var key: String

    @Option(help: ArgumentHelp("The blob, when the boot wrapper passes it (linux,esm-blob-start/end); the whole initrd is then hashed.", valueName: "FILE"))
    var blob: String?

    @Option(help: ArgumentHelp("The RTAS text bytes (default: SLOF's 20-byte hv-RTAS stub).", valueName: "FILE"))
    var rtas: String?

    @Option(help: ArgumentHelp(
        "Which Ultravisor decides what a failed check does: documented (enforce) or open-power (warn: it boots on).",
        valueName: "documented|open-power"))
    var firmware: String = "documented"

    @Option(name: .customLong("esm-check"), help: "enforce or warn; default: the --firmware profile's.")
    var esmCheck: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: ArgumentHelp(
        "Warn when this guest kernel series (5.4, 5.10, 6.1, 6.12; repeatable) needs swiotlb=force and the bootargs lack it.",
        valueName: "V"))
    var linux: [String] = []

    struct Output: Encodable {
        struct Location: Encodable {
            var source: String
            var entry: String?
            var blobOffset: Int?
            var hashedInitrdOffset: Int
            var hashedInitrdBytes: Int
            var notes: [String]
        }
        var passed: Bool
        var summary: String
        var blob: Location
        var keyFingerprint: String
        var keyLockbox: String?
        var notes: [String]
        var checks: [ESMCheck]
        /// The ESM check policy of the chosen firmware (or `--esm-check`).
        var esmCheck: String
        /// Whether that Ultravisor would take the guest secure: every check passed, or
        /// the policy only warns (`ESM_BLOB_CHK_WARN_ONLY`).
        var ultravisorBootsOn: Bool
    }

    func run() throws {
        let cmd = "verify"
        var policyChoice = BootConfiguration()
        try BootCLI.applyFirmwareOptions(
            firmware: firmware, hvTouch: HypervisorTouch.pageOut.rawValue, esmCheck: esmCheck, to: &policyChoice,
            command: "esm verify")
        let policy = policyChoice.effectiveESMCheckPolicy
        var versions: [LinuxVersion] = []
        for v in linux {
            guard let version = LinuxVersion(rawValue: v) else {
                throw ESMCLI.fail(
                    cmd, "--linux \(v): expected one of " + LinuxVersion.allCases.map(\.rawValue).joined(separator: ", "))
            }
            versions.append(version)
        }
        if let warning = SwiotlbPreflight.warning(commandLine: cmdline, linux: versions) {
            CLIReporter.err("svmkit esm verify: warning: \(warning)\n")
        }
        let kernelBytes = try ESMCLI.read(kernel, "kernel", command: cmd, option: "--kernel")
        let initrdBytes = try ESMCLI.read(initrd, "initrd", command: cmd, option: "--initrd")
        let rtasText = try rtas.map { (p: String) throws(ExitCode) in try ESMCLI.read(p, "RTAS text", command: cmd, option: "--rtas") } ?? ESMDigests.slofRTASStub
        let privateKey = try ESMCLI.privateKey(key, command: cmd)

        let blobBytes: [UInt8]
        let hashed: Range<Int>
        let location: Output.Location
        if let blob {
            let region = try ESMCLI.read(blob, "ESM blob", command: cmd, option: "--blob")
            guard let found = ESMWrapperBlob.blob(in: region) else {
                throw ESMCLI.fail(
                    cmd, "--blob \(blob): does not start with a device tree (magic 0xd00dfeed) whose totalsize fits in its \(region.count) bytes")
            }
            blobBytes = found
            hashed = 0..<initrdBytes.count
            location = .init(source: blob, hashedInitrdOffset: 0, hashedInitrdBytes: initrdBytes.count, notes: [])
        } else {
            let loc = try ESMCLI.run(cmd, initrd) { () throws(ESMError) in try ESMBlobLocator.locate(inInitrd: initrdBytes) }
            blobBytes = loc.blob
            hashed = loc.hashedRange
            location = .init(
                source: initrd, entry: loc.entryName, blobOffset: loc.blobOffset, hashedInitrdOffset: loc.hashedRange.lowerBound,
                hashedInitrdBytes: loc.hashedRange.count, notes: loc.notes)
        }
        // The verdict is the Ultravisor's check alone (as at UV_ESM); svm-tool's stricter
        // validation of the blob only adds a note, so verify and boot cannot disagree.
        var notes: [String] = []
        let parsed: ESMBlob?
        do { parsed = try ESMBlob(bytes: blobBytes) } catch {
            parsed = nil
            notes.append("svm-tool would not accept this blob (\(error.message)); the Ultravisor's check below decides")
        }
        let opened = try? parsed?.masterKeyAndLockbox(using: privateKey)
        if let parsed, let opened, opened.lockbox != ESMBlob.ultravisorLockboxName {
            let l1 = (try? parsed.lockbox(named: ESMBlob.ultravisorLockboxName)).map { ESMHex.encode($0.fingerprint) }
            notes.append(
                "this key opens \(opened.lockbox), not lockbox-1; the Ultravisor opens lockbox-1 with the TPM key"
                    + (l1.map { " (fingerprint \($0))" } ?? " (the blob has no lockbox-1)"))
        }
        let unwrap: ([UInt8]) throws -> [UInt8] =
            parsed.map { ESMIntegrityCheck.keyUnwrapper(privateKey: privateKey, blob: $0) } ?? { try privateKey.decrypt($0) }
        let report = ESMIntegrityCheck.run(
            blob: blobBytes, unwrapMasterKey: unwrap, rtasText: rtasText,
            readKernel: { $0 <= kernelBytes.count ? Array(kernelBytes.prefix($0)) : nil }, initrd: Array(initrdBytes[hashed]),
            bootargsProperty: Array(cmdline.utf8) + [0])
        let output = Output(
            passed: report.passed, summary: report.summary, blob: location, keyFingerprint: ESMHex.encode(privateKey.fingerprint),
            keyLockbox: opened?.lockbox, notes: notes, checks: report.checks, esmCheck: policy.rawValue,
            ultravisorBootsOn: report.passed || policy == .warn)
        if json {
            ESMCLI.stdout(ESMCLI.json(output))
        } else {
            var out = ""
            if let entry = location.entry, let off = location.blobOffset {
                out += "ESM blob: \(entry) at offset \(off) of \(initrd); initrd hashed from offset \(hashed.lowerBound) (\(hashed.count) bytes)\n"
            } else {
                out += "ESM blob: \(location.source); the whole initrd is hashed (\(hashed.count) bytes)\n"
            }
            for n in location.notes + notes { out += "note: \(n)\n" }
            out += "key: \(key) (fingerprint \(output.keyFingerprint))" + (opened.map { " opens \($0.lockbox)" } ?? " opens no lockbox") + "\n"
            for c in report.checks { out += "\(c)\n" }
            out += (report.passed ? "OK: " : "FAILED: ") + report.summary + "\n"
            if !report.passed, policy == .warn {
                out += "note: with the ESM check set to warn (--firmware \(firmware)) the Ultravisor boots on anyway: "
                    + "CONTINUING INSPITE OF ESM CHECK FAILURE (svm/svm-esm.c: svm_esm_blob_chk)\n"
            }
            ESMCLI.stdout(out)
        }
        if !report.passed { throw ESMCLI.checkFailed }
    }
}
