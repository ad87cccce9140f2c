import ArgumentParser
import ESM
import Foundation

/// `svmkit esm attach`: svm-tool's `esm attach`.
struct ESMAttachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "Attach an encrypted file (the guest reads it with UV_ESMB_GET_FILE).",
        discussion: """
            NAME must match ^[A-Za-z][0-9A-Za-z,._+-]{0,30}$ and the file must be under 64 KiB.

            Example:
              svmkit esm attach esmb.dtb rootd=passphrase.txt --key keys/owner-seckey.pem
            """
    )

    @Argument(help: ArgumentHelp("The blob, edited in place unless -o.", valueName: "FILE"))
    var file: String

    @Argument(help: ArgumentHelp("The attachment's name and the file to read.", valueName: "NAME=PATH"))
    var attachment: ESMAttachmentArgument

    @OptionGroup var key: ESMAuthorizedKeyOption

    @Option(help: "untrusted-comment of the attachment.")
    var comment = ""

    @OptionGroup var destination: ESMBlobOutputOptions

    func run() throws {
        let cmd = "attach"
        let data = try destination.edit(file, command: cmd) { (blob: inout ESMBlob) throws(ExitCode) in
            let master = try key.masterKey(blob, command: cmd)
            let data = try ESMCLI.read(attachment.path, "attachment", command: cmd)
            try ESMCLI.run(cmd, attachment.path) { () throws(ESMError) in
                try blob.attach(name: attachment.name, contents: data, comment: comment, masterKey: master)
            }
            return data
        }
        ESMCLI.stdout("attached \(attachment.path) as \(attachment.name) (\(data.count) bytes)\n")
    }
}
