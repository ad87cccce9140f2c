public import PowerABI

/// What kind of image a kexec loads (`image->type`, `image->preserve_context`).
public enum KexecKind: String, Hashable, Sendable, CaseIterable {
    /// A normal kexec (`kexec -e`).
    case normal
    /// A crash (kdump) kernel, `KEXEC_TYPE_CRASH`.
    case crash
    /// An image that preserves context (`KEXEC_PRESERVE_CONTEXT`).
    case preserveContext = "preserve-context"
}

/// What a kexec did.
public struct KexecReport: Hashable, Sendable, CustomStringConvertible {
    /// The kind.
    public let kind: KexecKind
    /// Whether the guest was secure when it kexec'ed.
    public let secure: Bool
    /// The status of `UV_UNSHARE_ALL_PAGES`, or `nil` if it was not called.
    public let unshareAllStatus: UltravisorStatus?
    /// Online vCPUs that ran `pseries_kexec_cpu_down()` (DTL, SLB shadow and VPA
    /// deregistration), for every kind of kexec.
    public let processorsTakenDown: Int
    /// Block devices shut down.
    public let devicesShutDown: Int
    /// The audit taken right after, before the next kernel runs.
    public let audit: SharedPageAuditReport

    /// Whether `UV_UNSHARE_ALL_PAGES` answered a failure in r3: not when it was not
    /// called, answered `U_SUCCESS`, or left r3 at its own number (the public firmware,
    /// ``PowerABI/UltravisorStatus/isUltracallNumber(of:)``), which says nothing.
    public var unshareAllReportedFailure: Bool {
        guard let s = unshareAllStatus else { return false }
        return s != .success && !s.isUltracallNumber(of: .unshareAllPages)
    }

    /// e.g. `kexec normal: UV_UNSHARE_ALL_PAGES → U_SUCCESS (0); after kexec (normal): 0 explicit, …`.
    public var description: String {
        "kexec \(kind.rawValue): "
            + (unshareAllStatus.map { "UV_UNSHARE_ALL_PAGES → \($0)" } ?? "UV_UNSHARE_ALL_PAGES skipped")
            + "; \(audit)"
    }
}
