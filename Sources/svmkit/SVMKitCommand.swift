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
            """,
        subcommands: [
            BootCommand.self, FDTCommand.self, ESMCommand.self, BenchCommand.self, SoakCommand.self, SWIOTLBCommand.self,
        ]
    )
}
