import ArgumentParser
import SVMKit

/// `--linux`, `--dma-path` and `--disk`: which Linux series the guest behaves as, which
/// DMA ops its virtual disk gets and which driver the disk has, shared by `svmkit boot`, `svmkit soak` and the commands that
/// boot a guest (issue 17 item 1).
struct KernelProfileOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The guest kernel's stable series: 5.4, 5.10, 6.1 or 6.12 (6.1 and 6.12 need swiotlb=force for a bounce pool).",
        valueName: "5.4|5.10|6.1|6.12"))
    var linux: String = LinuxVersion.newest.rawValue
    @Option(name: .customLong("dma-path"), help: ArgumentHelp(
        "The virtual disk's DMA ops: ddw (virtio-blk-pci behind a DDW window: dma-direct, SWIOTLB when forced) or tce (TCE-mapped: never bounces, in any series).",
        valueName: "ddw|tce"))
    var dmaPath: String = DMAPath.ddwBypass.rawValue
    @Option(help: ArgumentHelp(
        "The virtual disk's Linux driver: virtio (virtio-blk-pci) or nvme (an NVMe controller: min_align_mask 0xfff, so on 6.1 a loaded small bounce pool can hang in swiotlb_do_find_slots()).",
        valueName: "virtio|nvme"))
    var disk: String = VirtualDiskKind.virtio.rawValue

    /// The series, or exit 2 naming `--linux`.
    func version(command: String) throws(ExitCode) -> LinuxVersion {
        guard let v = LinuxVersion(rawValue: linux) else {
            throw BootCLI.fail(
                "--linux \(linux): expected one of " + LinuxVersion.allCases.map(\.rawValue).joined(separator: ", "),
                command: command)
        }
        return v
    }

    /// The DMA path, or exit 2 naming `--dma-path`.
    func path(command: String) throws(ExitCode) -> DMAPath {
        guard let p = DMAPath(rawValue: dmaPath) else {
            throw BootCLI.fail("--dma-path \(dmaPath): expected ddw or tce", command: command)
        }
        return p
    }

    /// The disk's driver, or exit 2 naming `--disk`.
    func diskKind(command: String) throws(ExitCode) -> VirtualDiskKind {
        guard let k = VirtualDiskKind(rawValue: disk) else {
            throw BootCLI.fail(
                "--disk \(disk): expected one of " + VirtualDiskKind.allCases.map(\.rawValue).joined(separator: ", "),
                command: command)
        }
        return k
    }

    /// Exits 2 naming `--swiotlb-dynamic` when `series` has no `CONFIG_SWIOTLB_DYNAMIC`
    /// (``LinuxVersion/hasDynamicSWIOTLB``): such a kernel cannot be built with it.
    static func checkDynamic(_ dynamic: Bool, series: LinuxVersion, command: String) throws(ExitCode) {
        guard dynamic, !series.hasDynamicSWIOTLB else { return }
        let with = LinuxVersion.allCases.filter(\.hasDynamicSWIOTLB).map(\.rawValue).joined(separator: ", ")
        throw BootCLI.fail(
            "--swiotlb-dynamic: Linux \(series.rawValue) has no CONFIG_SWIOTLB_DYNAMIC (added in 6.6); "
                + "use --linux \(with) or drop --swiotlb-dynamic",
            command: command)
    }

    /// Sets all three on `configuration`.
    func apply(to configuration: inout BootConfiguration, command: String) throws(ExitCode) {
        configuration.linux = try version(command: command)
        configuration.dmaPath = try path(command: command)
        configuration.disk = try diskKind(command: command)
    }
}
