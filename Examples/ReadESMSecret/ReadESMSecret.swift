import ArgumentParser
import Foundation
// Switching the vCPU to user space (MSR(PR), PIDR) is the kernel's context switch;
// SVMKit keeps the register setters behind PEFMachine's @_spi(Firmware).
@_spi(Firmware) import PEFMachine
import SVMKit

/// The equivalent of svm-password-agent's `esmb-get-file -f rootd`: boot a secure
/// guest whose ESM blob carries a disk passphrase as the attachment `rootd`, then read
/// it from inside the guest with `UV_ESMB_GET_FILE`, 64 bytes per ultracall, as the
/// initramfs does before it opens the root disk (reference/ultravisor-facts.md §4).
///
/// Exit status: 0 when the file was read (and matches what was sealed, when known);
/// 1 when `UV_ESMB_GET_FILE` failed or the guest did not go secure; 2 for bad inputs.
@main
struct ReadESMSecret: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ReadESMSecret",
        abstract: "Boot a secure guest, then read an ESM-blob attachment with UV_ESMB_GET_FILE, as esmb-get-file does.",
        discussion: """
            With --secret, the example seals that text into a fresh ESM blob as the \
            attachment `rootd` (lockbox-1 opens with a fresh TPM key) and boots with it; \
            without, SVMKit's default boot seals a random passphrase. The read runs in \
            problem state (MSR(PR) = 1) with a process ID in PIDR, as the user-space tool \
            does. A second read of the same file then fails: the Ultravisor lets each file \
            be read once, in order, by one process.

            Examples:
              ReadESMSecret
              ReadESMSecret --secret "correct horse battery staple"
              ReadESMSecret --file crypttab     # not attached: fails with FDT_ERR_NOTFOUND
            """)

    @Option(name: [.customShort("f"), .long], help: ArgumentHelp("The attachment to read.", valueName: "NAME"))
    var file = "rootd"

    @Option(help: ArgumentHelp("Seal this text as the attachment rootd instead of a random passphrase.", valueName: "TEXT"))
    var secret: String?

    @Option(help: ArgumentHelp("Guest RAM in MiB.", valueName: "MiB"))
    var memory: UInt64 = 512

    func run() throws {
        // 1. What to boot: the default image, or one whose blob carries `secret`.
        var configuration = BootConfiguration()
        configuration.memoryBytes = memory << 20
        configuration.cpuCount = 1
        var sealed: [String: [UInt8]] = [:]
        if let secret {
            do {
                let tpmKey = try TPMProvisioning.generateKeyPEM()
                let kernel = DefaultGuestContent.kernel()
                let initrd = DefaultGuestContent.initrd()
                sealed = ["rootd": Array(secret.utf8)]
                let blob = try BootImageBuilder.makeBlob(
                    tpmKeyPEM: tpmKey, kernel: kernel, initrd: initrd, commandLine: configuration.commandLine,
                    attachments: sealed)
                configuration.tpmKeyPEM = tpmKey
                configuration.kernel = kernel
                configuration.initrd = try ESMInitrd.addBlob(blob, to: initrd)
                print("== sealed \(secret.utf8.count) bytes as rootd in a new ESM blob (lockbox-1: a fresh TPM key)")
            } catch {
                return try fail(2, "cannot make the ESM blob: \(error)")
            }
        }

        // 2. Boot: UV_ESM copies the blob's files FDT into a page it reserves.
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: configuration)
        } catch {
            return try fail(2, "cannot build the machine: \(error)")
        }
        if sealed.isEmpty { sealed = vm.image.generatedAttachments }
        let report = vm.boot()
        guard report.secure else {
            return try fail(1, "the guest did not go secure: \(report.esmFailure ?? report.stopReason ?? "unknown")")
        }
        print("== booted secure: UV_ESM returned \(report.esmResult ?? 0), the attachments are in the Ultravisor's reserved page")

        // 3. Read the file the way esmb-get-file does: from user space, one process.
        let vcpu = vm.machine.bootProcessor
        let saved = vcpu.snapshot
        vcpu.update {
            $0.msr.insert(.problemState)
            $0.pidr = 1042
        }
        defer {
            vcpu.update {
                $0.msr = saved.msr
                $0.pidr = saved.pidr
            }
        }
        print("== esmb-get-file -f \(file)  (MSR(PR) = 1, PIDR = \(vcpu.pidr))")
        let chunks: [[UInt8]]
        do {
            chunks = try ESMBGetFile.readChunks(file, on: vcpu)
        } catch {
            return try fail(1, "\(error)")
        }
        var offset = 0
        for chunk in chunks {
            print("   UV_ESMB_GET_FILE offset \(offset) → \(chunk.count) byte(s)")
            offset += chunk.count
        }
        print("   UV_ESMB_GET_FILE offset \(offset) → 0 (end of file)")
        let contents = chunks.flatMap { $0 }
        print("-- output (each chunk followed by a newline, as the C tool prints it) --")
        print(String(decoding: ESMBGetFile.output(of: chunks), as: UTF8.self), terminator: "")
        print("-- end of output --")
        if let expected = sealed[file] {
            guard contents == expected else { return try fail(1, "\(file) differs from what was sealed into the blob") }
            print("   matches the \(expected.count) byte(s) sealed into the blob")
        }

        // 4. The read-once rule: reading again from offset 0 is refused.
        let refusal: ESMBGetFileError?
        do {
            _ = try ESMBGetFile.read(file, on: vcpu)
            refusal = nil
        } catch {
            refusal = error
        }
        guard let refusal else { return try fail(1, "a second read of \(file) succeeded; the Ultravisor should refuse it") }
        print("== a second read: \(refusal)")
        print("OK: read \(contents.count) byte(s) of \(file) in \(chunks.count) ultracall(s) of at most \(ESMBGetFile.chunkBytes) bytes")
    }

    private func fail(_ status: Int32, _ message: String) throws {
        FileHandle.standardError.write(Data("ReadESMSecret: \(message)\n".utf8))
        throw ExitCode(status)
    }
}
