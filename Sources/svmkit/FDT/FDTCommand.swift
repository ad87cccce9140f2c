import ArgumentParser

/// Placeholder for `svmkit fdt`; the foundation issue replaces it.
struct FDTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fdt", abstract: "Device trees (not built yet).")
    func run() throws { throw ValidationError("svmkit fdt is not built yet") }
}
