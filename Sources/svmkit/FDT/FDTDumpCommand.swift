import ArgumentParser
import DeviceTree

/// `svmkit fdt dump FILE`: the tree as device-tree source.
struct FDTDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print a device tree as source text, as `dtc -I dtb -O dts` does.",
        discussion: """
            The text is the same as dtc's for the same blob: /dts-v1/, /memreserve/ \
            lines, then the nodes with strings, "string\\0lists", <0x..> cells and \
            [..] bytes, the form chosen as dtc chooses it.

            Examples:
              svmkit fdt dump guest.dtb
              svmkit fdt dump --header guest.dtb
              svmkit fdt pseries --memory 1G --cpus 2 | svmkit fdt dump -
            """
    )

    @Argument(help: ArgumentHelp("The device tree blob to read; - reads standard input.", valueName: "file"))
    var file: String

    @Flag(help: "Start with the header fields (version, sizes, boot_cpuid_phys) as // comments.")
    var header = false

    func run() throws {
        let tree = try FDTInput.tree(file, command: "dump")
        if header {
            let h = tree.header
            CLIReporter.out(
                """
                // magic:\t\t0x\(String(h.magic, radix: 16))
                // totalsize:\t\t0x\(String(h.totalSize, radix: 16)) (\(h.totalSize))
                // off_dt_struct:\t0x\(String(h.structureBlockOffset, radix: 16))
                // off_dt_strings:\t0x\(String(h.stringsBlockOffset, radix: 16))
                // off_mem_rsvmap:\t0x\(String(h.reserveMapOffset, radix: 16))
                // version:\t\t\(h.version)
                // last_comp_version:\t\(h.lastCompatibleVersion)
                // boot_cpuid_phys:\t0x\(String(h.bootCPUIDPhys, radix: 16))
                // size_dt_strings:\t0x\(String(h.stringsBlockSize, radix: 16))
                // size_dt_struct:\t0x\(String(h.structureBlockSize, radix: 16))


                """)
        }
        CLIReporter.out(tree.renderDTS())
    }
}
