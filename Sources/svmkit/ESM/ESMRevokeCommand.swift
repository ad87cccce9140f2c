import ArgumentParser
import ESM
import Foundation

/// `svmkit esm revoke`: svm-tool's `esm revoke`.
struct ESMRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Remove the lockbox of a recipient's public key.",
        discussion: """
            The lockbox is found by the SHA-256 of the public key file's exact bytes. The \
            origin lockbox cannot be revoked.

            Example:
              svmkit esm revoke esmb.dtb --pubkey keys/old-pubkey.pem
            """
    )

    @Argument(help: ArgumentHelp("The blob, edited in place unless -o.", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("The recipient's public key file.", valueName: "PEM"))
    var pubkey: String

    @OptionGroup var destination: ESMBlobOutputOptions

    func run() throws {
        let cmd = "revoke"
        let name = try destination.edit(file, command: cmd) { (blob: inout ESMBlob) throws(ExitCode) in
            let key = try ESMCLI.publicKey(pubkey, command: cmd, option: "--pubkey")
            return try ESMCLI.run(cmd, pubkey) { () throws(ESMError) in try blob.revoke(key) }
        }
        ESMCLI.stdout("revoked \(name)\n")
    }
}
