import ArgumentParser

/// Placeholder for `svmkit bench swiotlb`; the SWIOTLB issue replaces it.
struct BenchSWIOTLBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "swiotlb", abstract: "Bounce-buffer throughput (not built yet).")
    func run() throws { throw ValidationError("svmkit bench swiotlb is not built yet") }
}
