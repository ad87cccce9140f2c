import ArgumentParser
import Foundation
import SVMKit

/// Boots a simulated POWER secure guest through the SVMKit library, end to end:
/// configure (``BootConfiguration``), build (``SecureVirtualMachine``), boot (prom_init's
/// `svm=` and `UV_ESM`, then the guest kernel's runtime), read the ``BootReport``, and
/// kexec, which unshares every page the guest shared (`UV_UNSHARE_ALL_PAGES`).
///
/// Exit status: 0 when the guest ended as its command line asked and every invariant
/// held (also after the kexec); 1 when it did not; 2 when the inputs were wrong.
@main
struct BootSecureGuest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "BootSecureGuest",
        abstract: "Boot a simulated POWER secure guest with the SVMKit library, print its report, then kexec.",
        discussion: """
            With no options, SVMKit makes a TPM key, a kernel, an initrd and an ESM blob \
            whose digests match them, so the Ultravisor's checks pass and the guest \
            ends with MSR(S) = 1.

            Examples:
              BootSecureGuest
              BootSecureGuest --memory 512 --cpus 1 --kexec crash
              BootSecureGuest --cmdline "svm=off console=hvc0"
            """)

    @Option(help: ArgumentHelp("Guest RAM in MiB (at least 256).", valueName: "MiB"))
    var memory: UInt64 = 1024

    @Option(help: "vCPUs.")
    var cpus = 2

    @Option(help: ArgumentHelp("The kernel command line (/chosen/bootargs).", valueName: "STRING"))
    var cmdline = "svm=on console=hvc0"

    @Option(help: ArgumentHelp("What to kexec into after the boot: normal, crash, preserve-context or none.", valueName: "KIND"))
    var kexec = "normal"

    func validate() throws {
        guard kexec == "none" || KexecKind(rawValue: kexec) != nil else {
            throw ValidationError("--kexec must be normal, crash, preserve-context or none, not \"\(kexec)\"")
        }
    }

    func run() throws {
        // 1. Configure: everything not given is generated.
        var configuration = BootConfiguration()
        configuration.memoryBytes = memory << 20
        configuration.cpuCount = cpus
        configuration.commandLine = cmdline
        print("== 1. configure: \(memory) MiB, \(cpus) vCPU(s), command line \"\(cmdline)\"")

        // 2. Build: lay out the image, provision the TPM, attach the Ultravisor and hypervisor.
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: configuration)
        } catch {
            printError("cannot build the machine: \(error)")
            throw ExitCode(2)
        }
        print("== 2. build: the boot image as QEMU and SLOF leave it")
        for segment in vm.image.segments {
            print("   \(segment.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(segment.address) + \(segment.bytes.count) bytes")
        }
        print("   fdt      \(vm.image.fdtAddress) + \(vm.image.deviceTree.totalSize) bytes (r5 of UV_ESM; kbase \(vm.image.kernelBase) is r4)")

        // 3. Boot: prom_init, UV_ESM, the kernel's runtime.
        let report = vm.boot()
        print("== 3. boot: the guest kernel's log")
        for line in report.kernelLog { print("   \(line)") }
        print("== 4. report")
        print("   secure          \(report.secure ? "yes" : "no") (asked: \(report.requestedSecure ? "yes" : "no")), /sys/devices/system/cpu/svm = \(report.sysfsSVM)")
        print("   UV_ESM result   \(report.esmResult.map(String.init) ?? "not called")")
        for check in report.esmChecks {
            print("   ESM check       [\(check.passed ? "pass" : "FAIL")] \(check.check): \(check.detail)")
        }
        if let failure = report.esmFailure { print("   ESM failure     \(failure)") }
        if let term = report.osTerm { print("   ibm,os-term     \(term)") }
        print("   shared pages    \(describe(report.sharedPages))")
        print("   ultracalls and hypercalls  \(describe(report.calls, limit: 6))")
        for audit in report.audits { print("   audit           \(audit)") }
        for failure in report.invariantFailures { print("   INVARIANT       \(failure)") }
        guard report.endedAsRequested else {
            printError("the guest did not end as its command line asked (see above)")
            throw ExitCode.failure
        }

        // 5. kexec: a normal kexec unshares everything; a crash kexec leaves the shares.
        guard let kind = KexecKind(rawValue: kexec), vm.kernel != nil else { return }
        let after = vm.kexec(kind)
        print("== 5. kexec \(kind.rawValue)")
        for line in after.kernelLog.dropFirst(report.kernelLog.count) { print("   \(line)") }
        if let k = after.kexec { print("   \(k)") }
        if let next = after.audits.last, after.audits.count > report.audits.count + 1 {
            print("   next kernel     \(next)")
        }
        for failure in after.invariantFailures { print("   INVARIANT       \(failure)") }
        guard after.invariantFailures.isEmpty else {
            printError("invariants failed after kexec")
            throw ExitCode.failure
        }
        print("OK: the guest booted \(after.secure ? "secure" : "normal") and came through kexec \(kind.rawValue) with a clean ledger")
    }

    private func describe(_ counts: [String: Int], limit: Int = .max) -> String {
        let sorted = counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
        let shown = sorted.prefix(limit).map { "\($0.key) \($0.value)" }
        return (shown + (sorted.count > limit ? ["…"] : [])).joined(separator: ", ")
    }

    private func printError(_ message: String) {
        FileHandle.standardError.write(Data("BootSecureGuest: \(message)\n".utf8))
    }
}
