import SecureGuest

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
