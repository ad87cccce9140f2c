import ArgumentParser
import ESM
import Foundation

/// `svmkit esm detach`: remove an attachment (svm-tool's `detach` is broken).
struct ESMDetachCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detach",
        abstract: "Remove an attached file.",
        discussion: """
            Example:
              svmkit esm detach esmb.dtb --name rootd
            """
    )

    @Argument(help: ArgumentHelp("The blob, edited in place unless -o.", valueName: "FILE"))
    var file: String

    @Option(help: "The attachment's name.")
    var name: String

    @OptionGroup var destination: ESMBlobOutputOptions

    func run() throws {
        let cmd = "detach"
        try destination.edit(file, command: cmd) { (blob: inout ESMBlob) throws(ExitCode) in
            try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.detach(name: name) }
        }
        ESMCLI.stdout("detached \(name)\n")
    }
}
