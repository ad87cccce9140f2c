import ArgumentParser
import ESM
import Foundation

/// `svmkit esm extract`: decrypt one attachment (svm-tool's `extract` is broken).
struct ESMExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Decrypt an attached file with any authorized private key.",
        discussion: """
            Writes the file's bytes to -o, or to standard output.

            Examples:
              svmkit esm extract esmb.dtb --key keys/owner-seckey.pem --name rootd
              svmkit esm extract esmb.dtb --key keys/tpm-seckey.pem --name crypttab \\
                  -o crypttab
            """
    )

    @Argument(help: ArgumentHelp("The blob (or an initrd holding one).", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("A private key that opens one of the lockboxes.", valueName: "PEM"))
    var key: String

    @Option(help: "The attachment's name.")
    var name: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write it (default: standard output).", valueName: "FILE"))
    var output: String?

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given as the output.")
    var force = false

    func run() throws {
        let cmd = "extract"
        if let output { try ESMCLI.checkOutput(output, "attachment", command: cmd, force: force, option: "-o") }
        let blob = try ESMCLI.blob(file, command: cmd)
        let k = try ESMCLI.privateKey(key, command: cmd)
        let master = try ESMCLI.masterKey(blob, k, keyPath: key, command: cmd)
        let data = try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.extract(name, masterKey: master) }
        if let output {
            try ESMCLI.write(data, to: output, "attachment", command: cmd, mode: 0o600, force: force)
        } else {
            CLIReporter.out(data)
        }
    }
}
