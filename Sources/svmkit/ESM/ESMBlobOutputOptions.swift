import ArgumentParser
import ESM

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

    /// The frame of the commands that edit a blob (`attach`, `authorize`, `detach`,
    /// `revoke`): checks the output, reads the blob in `file` (or in the initrd it is
    /// in), lets `edit` change it, and writes it back to `file` or `-o`. Returns what
    /// `edit` returns.
    func edit<T>(
        _ file: String, command: String, _ edit: (inout ESMBlob) throws(ExitCode) -> T
    ) throws(ExitCode) -> T {
        try check(editing: file, command: command)
        var blob = try ESMCLI.blob(file, command: command)
        let result = try edit(&blob)
        try write(blob.bytes, editing: file, command: command)
        return result
    }
}
