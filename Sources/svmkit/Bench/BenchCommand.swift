import ArgumentParser

/// `svmkit bench`: measurements reported as ratios to a limit measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each reported against a physical limit measured in the same run.",
        subcommands: [BenchSWIOTLBCommand.self, BenchBootCommand.self]
    )
}
