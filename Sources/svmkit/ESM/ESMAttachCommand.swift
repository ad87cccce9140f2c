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

    @Option(help: ArgumentHelp("An authorized private key.", valueName: "PEM"))
    var key: String

    @Option(help: "untrusted-comment of the attachment.")
    var comment = ""

    @OptionGroup var destination: ESMBlobOutputOptions

    func run() throws {
        let cmd = "attach"
        try destination.check(editing: file, command: cmd)
        var blob = try ESMCLI.blob(file, command: cmd)
        let master = try ESMCLI.masterKey(blob, try ESMCLI.privateKey(key, command: cmd), keyPath: key, command: cmd)
        let data = try ESMCLI.read(attachment.path, "attachment", command: cmd)
        try ESMCLI.run(cmd, attachment.path) { () throws(ESMError) in
            try blob.attach(name: attachment.name, contents: data, comment: comment, masterKey: master)
        }
        try destination.write(blob.bytes, editing: file, command: cmd)
        ESMCLI.stdout("attached \(attachment.path) as \(attachment.name) (\(data.count) bytes)\n")
    }
}
