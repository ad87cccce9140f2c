import SecureGuest
import SWIOTLB

/// The preflight warning of `svmkit boot` and `svmkit esm verify --linux`: a secure
/// guest's command line without `swiotlb=force` on a kernel series that then has no
/// SWIOTLB bounce pool (`LinuxVersion.secureGuestPoolWithoutForce`). A warning only:
/// it never changes an exit status. SVMKit's knowledge, not guest behaviour.
public enum SwiotlbPreflight {
    /// The warning for `commandLine` booted as each of `linux`, or `nil` when none is
    /// needed: the line does not ask for `svm=on`, already says `swiotlb=force`, or no
    /// series given needs it.
    public static func warning(commandLine: String, linux: [LinuxVersion]) -> String? {
        let line = KernelCommandLine(commandLine)
        guard SVMOption(line).enabled else { return nil }
        let affected = linux.filter { !$0.secureGuestPoolWithoutForce }
        guard !affected.isEmpty, SWIOTLBOption(line).forceMode != .force else { return nil }
        return "Linux " + affected.map(\.series).joined(separator: ", ")
            + " gives a secure guest no SWIOTLB bounce pool without swiotlb=force (the bootargs \""
            + commandLine + "\" lack it), so its virtual disk DMAs straight at secure memory and the disk receives "
            + "ciphertext (affected series: " + LinuxVersion.needingSwiotlbForce.map(\.series).joined(separator: ", ")
            + "). Use this line, in the ESM blob's bootargs digest too: \"" + suggestedLine(commandLine) + "\""
    }

    /// The warning for a guest of series `linux` whose virtual disk has driver `disk`,
    /// or `nil`: when the disk's device has a `min_align_mask` and the series' slot
    /// search is 6.1's (`SWIOTLBAllocatorKind.linux61`), a map that needs the other
    /// slot phase spins for ever in `swiotlb_do_find_slots()` once no slot of that phase
    /// fits in its area (`SWIOTLBScanHang`, `kernel/dma/swiotlb.c: swiotlb_do_find_slots
    /// (6.1)`). A single boot rarely fills an area; the soak does.
    public static func scanHangWarning(linux: LinuxVersion, disk: VirtualDiskKind) -> String? {
        let mask = disk.dmaDevice(linux: linux).minAlignMask
        guard mask != 0, linux.swiotlbAllocator == .linux61 else { return nil }
        return "Linux \(linux.series)'s SWIOTLB slot search can spin for ever holding an area lock when an "
            + "\(disk.displayName) buffer (min_align_mask 0x\(String(mask, radix: 16))) needs a slot phase that no "
            + "longer fits in a nearly full area (\(SWIOTLBScanHang.function)(), removed by commit "
            + "\(SWIOTLBScanHang.fix)); one boot's round trip does not fill an area, a soak with a small pool does: "
            + "svmkit soak --linux \(linux) --disk \(disk) --cmdline \"\(Self.scanHangSoakCommandLine)\""
    }

    /// The soak command line that reaches 6.1's endless scan within seconds: a 2 MiB
    /// pool (1024 slots; 4 areas of 256 with 4 vCPUs), so one vCPU's request of up to
    /// 1 MiB, in chunks of 252 KiB, can nearly fill its area.
    public static let scanHangSoakCommandLine = "svm=on swiotlb=1024,force console=hvc0"

    /// `commandLine` with `swiotlb=force` after its `svm=` parameter (or first) and any
    /// `swiotlb=noforce` removed.
    public static func suggestedLine(_ commandLine: String) -> String {
        var words = commandLine.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        words.removeAll { $0 == "swiotlb=noforce" }
        let at = (words.firstIndex { $0.hasPrefix("svm=") }).map { $0 + 1 } ?? 0
        words.insert("swiotlb=force", at: at)
        return words.joined(separator: " ")
    }
}
