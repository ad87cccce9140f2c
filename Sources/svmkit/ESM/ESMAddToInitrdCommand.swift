import ArgumentParser
import ESM
import Foundation

/// `svmkit esm add-to-initrd`: svm-tool's `svm add`.
struct ESMAddToInitrdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-to-initrd",
        abstract: "Put a blob in front of an initrd, where the Ultravisor looks for it.",
        discussion: """
            Writes a newc cpio holding opt/ibm/pef/<name> (entries ., opt, opt/ibm, \
            opt/ibm/pef, the blob, TRAILER!!!; padded to 512 bytes), then the original initrd \
            unchanged, as svm-tool's `svm add` does. The digests must be of the original \
            initrd: the Ultravisor hashes only what follows the cpio.

            Examples:
              svmkit esm add-to-initrd esmb.dtb initrd.img -o initrd-esm.img
            """
    )

    @Argument(help: ArgumentHelp("The blob.", valueName: "BLOB"))
    var blob: String

    @Argument(help: ArgumentHelp("The original initrd.", valueName: "INITRD"))
    var initrd: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The initrd to write.", valueName: "FILE"))
    var output: String

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given as the output.")
    var force = false

    @Option(help: "The blob's file name in the archive (default: BLOB's base name).")
    var name: String?

    func run() throws {
        let cmd = "add-to-initrd"
        try ESMCLI.checkOutput(output, "initrd", command: cmd, force: force, option: "-o")
        let bytes = try ESMCLI.read(blob, "ESM blob", command: cmd)
        _ = try ESMCLI.run(cmd, blob) { () throws(ESMError) in try ESMBlob(bytes: bytes) }
        let original = try ESMCLI.read(initrd, "initrd", command: cmd)
        let fileName = name ?? CLIOutput.baseName(of: blob)
        let out = try ESMCLI.run(cmd) { () throws(ESMError) in try ESMInitrd.addBlob(bytes, to: original, name: fileName) }
        try ESMCLI.write(out, to: output, "initrd", command: cmd, force: force)
        ESMCLI.stdout("wrote \(output): \(out.count - original.count)-byte archive with opt/ibm/pef/\(fileName), then \(original.count) bytes of \(initrd)\n")
    }
}
