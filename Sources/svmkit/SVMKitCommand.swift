import ArgumentParser

/// `svmkit`: boot simulated POWER Secure Virtual Machines, build and inspect ESM
/// blobs and device trees, and benchmark the SWIOTLB bounce-buffer pool.
@main
struct SVMKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svmkit",
        abstract: "Guest-side toolkit for POWER Secure Virtual Machines (PEF), with a simulated Ultravisor.",
        discussion: """
            Every subcommand has its own --help. Examples:
              svmkit fdt pseries --memory 4G --cpus 4 -o guest.dtb
              svmkit fdt dump guest.dtb
              svmkit esm inspect blob.dtb --json
              svmkit bench swiotlb --sizes 4K,64K --seconds 1
              svmkit boot --bug double-unmap
              svmkit soak --seconds 60 --seed 7
              svmkit swiotlb replay trace.json --json
              svmkit faults walk --memory 1G --cpus 2 --jobs 2

            Exit status, for every subcommand: 0 success; 1 the job ran and found a \
            failure (a failed check, a guest that did not end as asked, output lost); 2 bad \
            input (the message names the option or file); 64 command-line syntax.
            """,
        subcommands: [
            BootCommand.self, FDTCommand.self, ESMCommand.self, BenchCommand.self, SoakCommand.self, SWIOTLBCommand.self,
            FaultsCommand.self,
        ]
    )

    /// Parses, runs, and exits through ``CLIReporter``, so that every exit path
    /// survives a closed or full standard output or error (see ``CLIExit``).
    static func main() {
        CLIReporter.prepare()
        var command: any ParsableCommand
        do { command = try parseAsRoot() } catch { CLIExit.leave(error, root: self) }
        do { try command.run() } catch { CLIExit.leave(error, root: self) }
        CLIReporter.finish(0)
    }
}
