import ArgumentParser

/// Placeholder for `svmkit esm`; the ESM issue replaces it.
struct ESMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "esm", abstract: "ESM blobs (not built yet).")
    func run() throws { throw ValidationError("svmkit esm is not built yet") }
}
