import ArgumentParser

/// `svmkit esm`: ESM blobs in svm-tool's format, for the Ultravisor's integrity check.
struct ESMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "esm",
        abstract: "Make, inspect and check ESM blobs (svm-tool's format) for secure guests.",
        discussion: """
            An ESM blob carries the digests the Ultravisor checks before a guest may go \
            secure (kernel, initrd, command line, RTAS), a master key wrapped for each \
            authorized RSA key (lockbox-1 must be the host TPM's key), and encrypted \
            attachments such as a disk passphrase. Blobs made here are read by svm-tool and \
            the other way round.

            Typical flow:
              svmkit esm keygen -o keys --name owner
              svmkit esm keygen -o keys --name tpm
              svmkit esm create --origin keys/owner-pubkey.pem \\
                  --recipient keys/tpm-pubkey.pem --kernel vmlinux.bin --initrd initrd.img \\
                  --cmdline "svm=on console=hvc0" --attach rootd=passphrase.txt -o esmb.dtb
              svmkit esm inspect esmb.dtb --key keys/owner-seckey.pem
              svmkit esm add-to-initrd esmb.dtb initrd.img -o initrd-esm.img
              svmkit esm verify --kernel vmlinux.bin --initrd initrd-esm.img \\
                  --cmdline "svm=on console=hvc0" --key keys/tpm-seckey.pem

            Exit status: 0 success, 1 a verify check failed or an output could not be \
            written, 2 bad input (named on stderr), 64 command-line syntax.
            """,
        subcommands: [
            ESMKeygenCommand.self, ESMCreateCommand.self, ESMInspectCommand.self, ESMExtractCommand.self,
            ESMAddToInitrdCommand.self, ESMVerifyCommand.self, ESMAuthorizeCommand.self, ESMRevokeCommand.self,
            ESMAttachCommand.self, ESMDetachCommand.self,
        ]
    )
}
