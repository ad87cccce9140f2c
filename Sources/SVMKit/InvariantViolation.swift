/// One invariant of a secure partition that does not hold (issue 8 item 3), found by
/// ``InvariantChecker``.
public struct InvariantViolation: Hashable, Sendable, CustomStringConvertible {
    /// Which invariant.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The hypervisor (or a device, or a non-secure vCPU) touched a page the page
        /// states forbade.
        case isolation = "isolation"
        /// A page is explicitly shared that the guest's ledger does not know.
        case ledgerLeak = "ledger leak"
        /// The guest's ledger lists a page the Ultravisor does not consider shared: the
        /// guest would bounce data through memory the hypervisor cannot reach.
        case ledgerLoss = "ledger loss"
        /// A page is caught in a share or unshare between operations.
        case transientPage = "transient page"
        /// A page is in a shared state that the hypervisor never handed over as shared.
        case hypervisorView = "hypervisor view"
        /// Explicit shares remain after a normal kexec's `UV_UNSHARE_ALL_PAGES`.
        case sharesAfterKexec = "shares after kexec"
        /// What the hypervisor holds for a paged-out page is not the Ultravisor's
        /// ciphertext of it.
        case pageOutNotCiphertext = "page-out not ciphertext"
        /// The guest is not secure, yet pages are in a shared state.
        case sharedWhileNotSecure = "shared while not secure"
        /// The guest kernel stopped with an error.
        case kernelError = "kernel error"
        /// `UV_ESM` went on past a failed integrity check (`--esm-check warn`).
        case esmCheckIgnored = "ESM check ignored"

        /// Whether this is a breach of isolation or of the guest's knowledge of what it
        /// shares, which no injected failure excuses. The others describe how a run
        /// ended and are explained outcomes when a failure was injected.
        public var isSafety: Bool {
            switch self {
            case .isolation, .ledgerLeak, .ledgerLoss, .hypervisorView, .pageOutNotCiphertext, .sharedWhileNotSecure:
                true
            case .transientPage, .sharesAfterKexec, .kernelError, .esmCheckIgnored:
                false
            }
        }
    }

    /// Which invariant.
    public let kind: Kind
    /// What was found, with addresses and owners.
    public let detail: String

    /// Makes a violation.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// e.g. `ledger leak: 2 page(s) shared that the guest's ledger does not know: gfn 0x10, gfn 0x11`.
    public var description: String { "\(kind.rawValue): \(detail)" }
}
