import ArgumentParser

/// `svmkit faults`: the exhaustive fault walk and the merge of its shards (issue 21).
struct FaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Fail every ultracall and hypercall of a boot, I/O and kexec, one at a time, and judge each run.",
        subcommands: [FaultsWalkCommand.self, FaultsMergeCommand.self])
}
