import ArgumentParser
import ESM
import Foundation

/// `svmkit esm authorize`: svm-tool's `esm authorize`.
struct ESMAuthorizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authorize",
        abstract: "Add a lockbox for a recipient's public key.",
        discussion: """
            The new lockbox is lockbox-N with N one more than the highest (origin counts as \
            0). The master key is opened with --key, any authorized private key.

            Example:
              svmkit esm authorize esmb.dtb --pubkey keys/tpm-pubkey.pem \\
                  --key keys/owner-seckey.pem
            """
    )

    @Argument(help: ArgumentHelp("The blob, edited in place unless -o.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("The recipient's public key file.", valueName: "PEM"))
    var pubkey: String

    @OptionGroup var key: ESMAuthorizedKeyOption

    @Option(help: "untrusted-comment of the new lockbox.")
    var comment = ""

    @OptionGroup var destination: ESMBlobOutputOptions

    func run() throws {
        let cmd = "authorize"
        let name = try destination.edit(file, command: cmd) { (blob: inout ESMBlob) throws(ExitCode) in
            let recipient = try ESMCLI.publicKey(pubkey, command: cmd, option: "--pubkey")
            let master = try key.masterKey(blob, command: cmd)
            return try ESMCLI.run(cmd, pubkey) { () throws(ESMError) in
                try blob.authorize(recipient, comment: comment, masterKey: master)
            }
        }
        ESMCLI.stdout("authorized \(pubkey) as \(name)\n")
    }
}
