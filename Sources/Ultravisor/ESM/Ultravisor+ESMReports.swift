extension Ultravisor {
    /// The report of the latest `UV_ESM` made for this LPID (refused, aborted or
    /// successful), or `nil` if there was none. It stays after the SVM is gone, so the
    /// cause of an abort can be read once the guest has the result.
    public func esmReport(lpid: UInt64) -> ESMReport? { state.withLock { $0.esmReports[lpid]?.last } }

    /// Every `UV_ESM` report for this LPID, oldest first (a second `UV_ESM` adds its
    /// `U_RETRY` refusal after the first call's report).
    public func esmReports(lpid: UInt64) -> [ESMReport] { state.withLock { $0.esmReports[lpid] ?? [] } }
}
