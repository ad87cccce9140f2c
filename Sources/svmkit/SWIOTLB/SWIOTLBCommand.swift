import ArgumentParser

/// `svmkit swiotlb`: tools around the SWIOTLB bounce-buffer pool.
struct SWIOTLBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiotlb",
        abstract: "Replay recorded SWIOTLB request streams against SVMKit's allocators.",
        subcommands: [SWIOTLBReplayCommand.self]
    )
}
