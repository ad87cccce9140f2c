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

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the result here instead.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given as the output.")
    var force = false

    func run() throws {
        let cmd = "detach"
        try ESMCLI.checkOutput(output ?? file, "blob", command: cmd, force: force, option: output == nil ? nil : "-o")
        var blob = try ESMCLI.blob(file, command: cmd)
        try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.detach(name: name) }
        try ESMCLI.write(blob.bytes, to: output ?? file, "blob", command: cmd, force: force)
        ESMCLI.stdout("detached \(name)\n")
    }
}
