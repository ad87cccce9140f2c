/// The outcome of ``ESMIntegrityCheck``: every check that ran, in the Ultravisor's
/// order, and what the Ultravisor keeps from it.
public struct ESMIntegrityReport: Sendable, Hashable {
    /// The checks that ran, in order. A missing property stops the run at once, so later
    /// checks are then absent (see ``stoppedEarly``).
    public var checks: [ESMCheck]
    /// Whether a missing property (or an unwrap or decrypt failure) stopped the run
    /// before every check ran.
    public var stoppedEarly: Bool
    /// The unwrapped master key, when `lockbox-1` opened. The Ultravisor stores it in
    /// its reserved page for UV_ESMB_GET_FILE; never print it.
    public var masterKey: [UInt8]?
    /// The decrypted digests FDT, when it opened.
    public var digestsFDT: [UInt8]?
    /// The decrypted digests, when the digests FDT opened and parsed.
    public var digests: ESMDigests?
    /// The blob's `/file/files-fdt` bytes (what the Ultravisor copies to its files-FDT page
    /// before the digest check, whatever its outcome), or `nil` when the blob has none.
    public var filesFDT: [UInt8]?

    /// Makes a report.
    public init(
        checks: [ESMCheck], stoppedEarly: Bool, masterKey: [UInt8]? = nil, digestsFDT: [UInt8]? = nil, digests: ESMDigests? = nil,
        filesFDT: [UInt8]? = nil
    ) {
        self.checks = checks
        self.stoppedEarly = stoppedEarly
        self.masterKey = masterKey
        self.digestsFDT = digestsFDT
        self.digests = digests
        self.filesFDT = filesFDT
    }

    /// Whether the Ultravisor would accept the guest: every check ran and passed
    /// (`svm_esmb_digest_chk` returns U_SUCCESS).
    public var passed: Bool { !stoppedEarly && !checks.isEmpty && checks.allSatisfy(\.passed) }

    /// The checks that failed.
    public var failures: [ESMCheck] { checks.filter { !$0.passed } }

    /// One line: "all 6 ESM checks passed", or the failures with their reasons.
    public var summary: String {
        if passed { return "all \(checks.count) ESM checks passed" }
        let f = failures
        if stoppedEarly, let last = f.last {
            let earlier = f.dropLast().map { "\($0.name): \($0.detail)" }
            return "ESM check stopped at \(last.name): \(last.detail)"
                + (earlier.isEmpty ? "" : "; failed before it: " + earlier.joined(separator: "; "))
        }
        return "\(f.count) of \(checks.count) ESM checks failed: " + f.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
    }
}
