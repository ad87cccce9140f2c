/// What the Ultravisor does when the ESM integrity check fails.
public enum ESMCheckPolicy: String, Hashable, Sendable, CaseIterable, Codable {
    /// Abort `UV_ESM` (a production build).
    case enforce
    /// Log and go secure anyway, as the firmware's default build does with
    /// `ESM_BLOB_CHK_WARN_ONLY` (reference/ultravisor-facts.md §0).
    case warn
}
