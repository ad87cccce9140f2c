/// How one fault scenario of a ``FaultWalk`` ended, worst first.
public enum FaultWalkOutcome: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// An inconsistency inside SVMKit itself: a safety invariant of ``InvariantChecker``
    /// broke (an isolation violation, a ledger that disagrees with the Ultravisor with no
    /// ignored status to explain it, the hypervisor's view differing from the
    /// Ultravisor's, a page-out that is not ciphertext), the fault was not injected
    /// exactly once, or the guest halted with nothing saying why. Never explained.
    case invariantBroken = "invariant-broken"
    /// The guest continued with damage: a guest fault, a finding about Linux (a ledger
    /// / Ultravisor mismatch caused by a status Linux ignores), a failed or corrupted
    /// block round trip, a vCPU that did not start; or the guest kernel stopped on an
    /// access it could not complete (not a clean stop). The diagnosis says what.
    case damaged
    /// The guest stopped cleanly: `ibm,os-term`, `prom_panic()`, or the Ultravisor's
    /// `svm_abort` (the partition's stop reason); the diagnosis says which and why.
    case terminated
    /// The guest handled the failure as Linux handles it and every phase ended as
    /// requested.
    case handled

    /// Worst first.
    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
    }
}
