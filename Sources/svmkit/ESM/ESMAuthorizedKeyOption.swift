import ArgumentParser
import ESM

/// `--key PEM` of the commands that open a blob's master key to change it (`attach`,
/// `authorize`): any authorized private key.
struct ESMAuthorizedKeyOption: ParsableArguments {
    @Option(help: ArgumentHelp("An authorized private key.", valueName: "PEM"))
    var key: String

    /// The master key of `blob`, opened with the key file (errors name the file).
    func masterKey(_ blob: ESMBlob, command: String) throws(ExitCode) -> ESMMasterKey {
        try ESMCLI.masterKey(blob, try ESMCLI.privateKey(key, command: command), keyPath: key, command: command)
    }
}
