import SVMKit

/// What a preflight checks: the images as they will be loaded, the command line, and
/// the private key that opens `lockbox-1`.
struct PreflightInputs {
    /// The kernel image as loaded at kbase.
    var kernel: [UInt8]
    /// The initrd with the ESM blob's cpio in front of it.
    var initrd: [UInt8]
    /// `/chosen/bootargs`, without the NUL.
    var commandLine: String
    /// The PEM private key (the TPM's, whose public half is in `lockbox-1`).
    var keyPEM: String

    /// A fresh TPM key, SVMKit's default kernel and initrd, and an ESM blob made for
    /// them and `commandLine`, put in front of the initrd as `svm add` does.
    static func generated(commandLine: String) throws -> PreflightInputs {
        let keyPEM = try TPMProvisioning.generateKeyPEM()
        let kernel = DefaultGuestContent.kernel()
        let initrd = DefaultGuestContent.initrd()
        let blob = try BootImageBuilder.makeBlob(
            tpmKeyPEM: keyPEM, kernel: kernel, initrd: initrd, commandLine: commandLine, attachments: [:])
        return PreflightInputs(
            kernel: kernel, initrd: try ESMInitrd.addBlob(blob, to: initrd), commandLine: commandLine, keyPEM: keyPEM)
    }

    /// The same inputs with another command line.
    func with(commandLine: String) -> PreflightInputs {
        var copy = self
        copy.commandLine = commandLine
        return copy
    }

    /// The same inputs with another kernel.
    func with(kernel: [UInt8]) -> PreflightInputs {
        var copy = self
        copy.kernel = kernel
        return copy
    }
}
