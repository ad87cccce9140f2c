import ArgumentParser
import Foundation
import SVMKit

/// Checks a kernel, an initrd (with its ESM blob) and a command line against the
/// Ultravisor's checks before they are deployed, with the ESM library's
/// ``ESMBlobLocator`` and ``ESMIntegrityCheck`` (`svm_esm_blob_chk()`,
/// reference/ultravisor-facts.md §2.6), plus the two things that stop a guest before
/// the Ultravisor ever sees it: `svm=` must ask for a secure guest, and the blob's
/// attachments must fit the Ultravisor's 64 KiB page (§2.6 step 5, §4.3).
///
/// With no arguments it runs a demonstration on inputs it makes: a good set, then a
/// command line with one extra space and a kernel with one changed byte, and boots
/// each in the simulator to show the Ultravisor reaches the same verdict.
///
/// Exit status: 0 every check passes (demo: every verdict as expected); 1 a check fails;
/// 2 bad input.
@main
struct ESMPreflight: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ESMPreflight",
        abstract: "Check a kernel, initrd and bootargs against the Ultravisor's UV_ESM checks before deploying.",
        discussion: """
            --key is the private key whose public half is in lockbox-1 (the TPM's key); \
            the owner's key also opens the blob, with a note. --boot also boots the inputs \
            in the simulator (with --key as the TPM's key) and compares the verdicts.

            Examples:
              ESMPreflight                                   # demonstration on generated inputs
              ESMPreflight --kernel vmlinux.bin --initrd initrd-esm.img \\
                  --cmdline "svm=on console=hvc0" --key tpm-seckey.pem --boot
            """)

    @Option(help: ArgumentHelp("The kernel image as loaded at kbase (objcopy -O binary).", valueName: "FILE"))
    var kernel: String?

    @Option(help: ArgumentHelp("The initrd with the ESM blob's cpio in front (svm add).", valueName: "FILE"))
    var initrd: String?

    @Option(help: ArgumentHelp("The kernel command line, exactly as /chosen/bootargs will hold it.", valueName: "STRING"))
    var cmdline: String?

    @Option(help: ArgumentHelp("The PEM private key that opens lockbox-1.", valueName: "PEM"))
    var key: String?

    @Flag(help: "Also boot the inputs in the simulator and compare its verdict.")
    var boot = false

    func validate() throws {
        let given = [kernel, initrd, cmdline, key].compactMap { $0 }.count
        guard given == 0 || given == 4 else {
            throw ValidationError("give all of --kernel, --initrd, --cmdline and --key, or none for the demonstration")
        }
    }

    func run() throws {
        guard let kernel, let initrd, let cmdline, let key else { return try demonstration() }
        let inputs: PreflightInputs
        do {
            inputs = PreflightInputs(
                kernel: try read(kernel), initrd: try read(initrd), commandLine: cmdline,
                keyPEM: String(decoding: try read(key), as: UTF8.self))
        } catch {
            return try fail(2, "\(error)")
        }
        print("== preflight: kernel \(kernel), initrd \(initrd), command line \"\(cmdline)\", key \(key)")
        let verdict = check(inputs)
        if boot { try confirm(inputs, expecting: verdict) }
        guard verdict else { return try fail(1, "at least one check fails: this guest would not go secure") }
        print("OK: the Ultravisor's checks pass for these inputs")
    }

    /// Runs the checks and prints them; returns whether all passed.
    private func check(_ inputs: PreflightInputs) -> Bool {
        let result = Preflight.run(inputs)
        for note in result.notes { print("   note: \(note)") }
        for check in result.checks { print("   \(check)") }
        print("   => \(result.passed ? "PASS" : "FAIL"): \(result.summary)")
        return result.passed
    }

    /// Boots the inputs in the simulator and checks that the Ultravisor agrees.
    private func confirm(_ inputs: PreflightInputs, expecting passed: Bool) throws {
        var configuration = BootConfiguration()
        configuration.memoryBytes = 512 << 20
        configuration.cpuCount = 1
        configuration.kernel = inputs.kernel
        configuration.initrd = inputs.initrd
        configuration.commandLine = inputs.commandLine
        configuration.tpmKeyPEM = inputs.keyPEM
        let report: BootReport
        do {
            report = try SecureVirtualMachine(configuration: configuration).boot()
        } catch {
            return try fail(2, "cannot boot the inputs: \(error)")
        }
        let outcome = report.secure
            ? "secure (UV_ESM returned 0)"
            : "not secure (UV_ESM \(report.esmResult.map(String.init) ?? "not called")\(report.esmFailure.map { ": \($0)" } ?? ""))"
        print("   simulator: the guest ended \(outcome)")
        guard report.secure == passed else {
            return try fail(1, "the preflight said \(passed ? "pass" : "fail") but the simulated Ultravisor disagrees")
        }
    }

    /// The demonstration on generated inputs.
    private func demonstration() throws {
        print("== demonstration: making a TPM key, a kernel, an initrd and an ESM blob for \"svm=on console=hvc0\"")
        let good: PreflightInputs
        do {
            good = try PreflightInputs.generated(commandLine: "svm=on console=hvc0")
        } catch {
            return try fail(2, "cannot make the demonstration inputs: \(error)")
        }
        var tamperedKernel = good.kernel
        tamperedKernel[tamperedKernel.count / 2] ^= 0x01
        let cases: [(String, PreflightInputs, Bool)] = [
            ("the inputs the blob was made for", good, true),
            ("one extra space in the command line", good.with(commandLine: "svm=on  console=hvc0"), false),
            ("one bit changed in the middle of the kernel", good.with(kernel: tamperedKernel), false),
            ("svm=off: prom_init never calls UV_ESM", good.with(commandLine: "svm=off console=hvc0"), false),
        ]
        var wrong: [String] = []
        for (index, (title, inputs, expected)) in cases.enumerated() {
            print("== \(index + 1). \(title)")
            let passed = check(inputs)
            try confirm(inputs, expecting: passed)
            if passed != expected { wrong.append(title) }
        }
        guard wrong.isEmpty else { return try fail(1, "unexpected verdicts: \(wrong.joined(separator: "; "))") }
        print("OK: every verdict as expected, and the simulated Ultravisor agreed each time")
    }

    private func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(path: path) }
        return Array(data)
    }

    private func fail(_ status: Int32, _ message: String) throws {
        FileHandle.standardError.write(Data("ESMPreflight: \(message)\n".utf8))
        throw ExitCode(status)
    }
}

/// A file that could not be read.
struct InputError: Error, CustomStringConvertible {
    /// The path given.
    var path: String
    var description: String { "cannot read \(path)" }
}
