import ArgumentParser
import ESM
import Foundation

/// `svmkit esm create`: svm-tool's `esm make` in one command.
struct ESMCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a blob: origin lockbox, recipients, digests, attachments.",
        discussion: """
            Works like svm-tool's `esm make`: create with the origin (owner) key, authorize \
            each recipient in order (the first becomes lockbox-1, the lockbox the Ultravisor \
            opens with the TPM, so give the TPM's key first), store the digests, attach files.

            --kernel is the raw image (`objcopy -O binary -S vmlinux`), --initrd the original \
            initrd (before add-to-initrd), --cmdline exactly the /chosen/bootargs the guest \
            will see (whitespace counts). The three go together; without them the blob has \
            no digests and the Ultravisor will refuse it.

            Examples:
              svmkit esm create --origin keys/owner-pubkey.pem -o esmb.dtb
              svmkit esm create --origin keys/owner-pubkey.pem \\
                  --recipient keys/tpm-pubkey.pem --kernel vmlinux.bin --initrd initrd.img \\
                  --cmdline "svm=on console=hvc0" --attach rootd=pass.txt -o esmb.dtb
            """
    )

    @Option(help: ArgumentHelp("The owner's public key file.", valueName: "PEM"))
    var origin: String

    @Option(help: "untrusted-comment of the origin lockbox.")
    var comment = ""

    @Option(help: ArgumentHelp("A recipient's public key file; repeat in order (the first is lockbox-1).", valueName: "PEM"))
    var recipient: [String] = []

    @Option(help: ArgumentHelp("The kernel image whose SHA-512 and size go in the digests.", valueName: "FILE"))
    var kernel: String?

    @Option(help: ArgumentHelp("The original initrd whose SHA-512 goes in the digests.", valueName: "FILE"))
    var initrd: String?

    @Option(help: ArgumentHelp("The kernel command line (hashed without a NUL).", valueName: "STRING"))
    var cmdline: String?

    @Option(help: ArgumentHelp("Attach a file under NAME; repeat for more (64 KiB at most each).", valueName: "NAME=PATH"))
    var attach: [ESMAttachmentArgument] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The blob file to write.", valueName: "FILE"))
    var output: String

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given as the output.")
    var force = false

    func run() throws {
        let cmd = "create"
        try ESMCLI.checkOutput(output, "blob", command: cmd, force: force, option: "-o")
        let given = [kernel, initrd, cmdline].filter { $0 != nil }.count
        guard given == 0 || given == 3 else {
            throw ESMCLI.fail(cmd, "--kernel, --initrd and --cmdline go together (the digests need all three)")
        }
        let originKey = try ESMCLI.publicKey(origin, command: cmd, option: "--origin")
        let recipients = try recipient.map { (p: String) throws(ExitCode) in (p, try ESMCLI.publicKey(p, command: cmd, option: "--recipient")) }
        let master = ESMMasterKey.random()
        var blob = try ESMCLI.run(cmd, origin) { () throws(ESMError) in try ESMBlob.create(origin: originKey, comment: comment, masterKey: master) }
        for (path, key) in recipients {
            let name = try ESMCLI.run(cmd, path) { () throws(ESMError) in try blob.authorize(key, masterKey: master) }
            CLIReporter.err("authorized \(path) as \(name)\n")
        }
        if let kernel, let initrd, let cmdline {
            let k = try ESMCLI.read(kernel, "kernel", command: cmd, option: "--kernel")
            let i = try ESMCLI.read(initrd, "initrd", command: cmd, option: "--initrd")
            let digests = try ESMCLI.run(cmd, kernel) { () throws(ESMError) in try ESMDigests(kernel: k, initrd: i, bootargs: cmdline) }
            try ESMCLI.run(cmd) { () throws(ESMError) in try blob.setDigests(digests, masterKey: master) }
        } else if !recipient.isEmpty || !attach.isEmpty {
            ESMCLI.complain(cmd, "warning: no --kernel/--initrd/--cmdline: the blob has no digests, and the Ultravisor will refuse it")
        }
        for a in attach {
            let data = try ESMCLI.read(a.path, "attachment", command: cmd, option: "--attach")
            try ESMCLI.run(cmd, a.path) { () throws(ESMError) in try blob.attach(name: a.name, contents: data, masterKey: master) }
        }
        try ESMCLI.write(blob.bytes, to: output, "blob", command: cmd, force: force)
        ESMCLI.stdout("wrote \(output) (\(blob.bytes.count) bytes)\n")
    }
}
