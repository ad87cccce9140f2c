import ArgumentParser

/// `-o FILE` and `--force` of the commands that edit a blob in place (`attach`,
/// `authorize`, `detach`, `revoke`): the blob goes back to the file it came from unless
/// `-o` names another.
struct ESMBlobOutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Write the result here instead.", valueName: "FILE"))
    var output: String?

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given as the output.")
    var force = false

    /// Checks where the blob read from `file` will be written, before anything is read.
    func check(editing file: String, command: String) throws(ExitCode) {
        try ESMCLI.checkOutput(output ?? file, "blob", command: command, force: force, option: output == nil ? nil : "-o")
    }

    /// Writes the edited blob back to `file`, or to `-o`.
    func write(_ bytes: [UInt8], editing file: String, command: String) throws(ExitCode) {
        try ESMCLI.write(bytes, to: output ?? file, "blob", command: command, force: force)
    }
}
