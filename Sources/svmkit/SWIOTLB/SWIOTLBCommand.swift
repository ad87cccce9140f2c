import ArgumentParser

/// `svmkit swiotlb`: tools around the SWIOTLB bounce-buffer pool.
struct SWIOTLBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiotlb",
        abstract: "Replay recorded SWIOTLB request streams; compare the benchmark with Linux's allocator.",
        subcommands: [SWIOTLBReplayCommand.self, SWIOTLBAdviseCommand.self, SWIOTLBPeerCommand.self]
    )
}
