/// The sysfs and debugfs files of the guest that SVMKit models, read at the moment
/// the view is taken.
///
/// - `/sys/devices/system/cpu/svm` (mode 0444): `0` or `1` from `is_secure_guest()`,
///   i.e. MSR(S) read now (`arch/powerpc/kernel/sysfs.c`; reference/linux-guest-facts.md §1.6);
/// - `/sys/kernel/debug/swiotlb/io_tlb_nslabs`, `io_tlb_used`, `io_tlb_used_hiwater`
///   when a SWIOTLB pool exists (§2.8).
///
/// The view is empty unless the kernel is running.
public struct SysfsView: Hashable, Sendable, CustomStringConvertible {
    /// `/sys/devices/system/cpu/svm`.
    public static let svmPath = "/sys/devices/system/cpu/svm"

    /// Path → contents (with the trailing newline `sysfs_emit` writes).
    public let files: [String: String]

    /// Makes a view.
    public init(files: [String: String]) { self.files = files }

    /// The contents of `path`, or `nil` if the file does not exist.
    public func read(_ path: String) -> String? { files[path] }

    /// `path: contents` lines, sorted by path.
    public var description: String {
        files.keys.sorted().map { path in
            "\(path): " + String(files[path, default: ""].split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
            .joined(separator: "\n")
    }
}

extension GuestKernel {
    /// The sysfs view now: `svm` reads MSR(S) of the boot vCPU at this moment. The file
    /// exists while the kernel runs (`topology_init` ran at the end of ``start(processors:fdtAddress:kernelBase:)``).
    public var sysfs: SysfsView {
        let (started, pool) = state.withLock { ($0.phase == .running, $0.pool) }
        var files: [String: String] = [:]
        if started { files[SysfsView.svmPath] = isSecureGuest ? "1\n" : "0\n" }
        if started, let stats = pool?.statistics {
            files["/sys/kernel/debug/swiotlb/io_tlb_nslabs"] = "\(stats.totalSlots)\n"
            files["/sys/kernel/debug/swiotlb/io_tlb_used"] = "\(stats.usedSlots)\n"
            files["/sys/kernel/debug/swiotlb/io_tlb_used_hiwater"] = "\(stats.highWaterSlots)\n"
        }
        return SysfsView(files: files)
    }
}
