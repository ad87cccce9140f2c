import ArgumentParser

/// `svmkit fdt`: flattened device trees (dtb) — print, query, generate.
struct FDTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fdt",
        abstract: "Print, query and generate flattened device trees (dtb).",
        discussion: """
            Examples:
              svmkit fdt pseries --memory 4G --cpus 4 -o guest.dtb
              svmkit fdt dump guest.dtb
              svmkit fdt get guest.dtb /rtas ibm,os-term
              svmkit fdt get guest.dtb /chosen --json

            Exit status: 0 on success, 1 when a node or property asked for is not \
            there, 2 for bad input (a file that cannot be read, a blob that is not a \
            valid device tree, a value out of range), 64 for command-line syntax errors.
            """,
        subcommands: [FDTDumpCommand.self, FDTGetCommand.self, FDTPseriesCommand.self]
    )
}
