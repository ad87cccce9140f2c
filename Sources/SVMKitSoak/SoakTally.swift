import SVMKit
import Locking
@_spi(Firmware) import PEFMachine
import Synchronization

/// The soak's running counters, shared by the worker threads and the runner.
final class SoakTally: Sendable {
    struct Counts: Sendable {
        var operations: [SoakOperationKind: Int] = [:]
        var bytesWritten: UInt64 = 0
        var bytesRead: UInt64 = 0
        var bytesBounced: UInt64 = 0
        var normalKexecs = 0
        var crashKexecs = 0
        var sectorsChecked = 0
        var checksumMismatches = 0
        var invariantChecks = 0
        var invariantFailures = 0
        var operationErrors = 0
        /// Maps that found the bounce pool full and were retried after a release
        /// (`BLK_STS_RESOURCE` requeues of block transfers, and bidirectional maps).
        var requeues = 0
        var failures: [SoakFailure] = []
        /// Frames found differing from what Linux believes because it ignored a status,
        /// and the hypervisor's accesses to them (findings about Linux, not failures).
        var findingFrames: Set<UInt64> = []
        var explainedViolations = 0
        /// Operations that failed because Linux went on with a page it believes shared
        /// after an ignored failed share (a device queue or pool the hypervisor cannot
        /// use), and their first messages.
        var consequences = 0
        var consequenceSamples: [String] = []
    }

    private let counts = Lock(Counts())
    /// Isolation violations already reported as failures.
    private let reportedViolations = Lock(0)

    /// Notes frames found differing from what Linux believes because it ignored a status.
    func noteFindings(_ frames: [GuestFrameNumber]) {
        guard !frames.isEmpty else { return }
        counts.withLock { c in for f in frames { c.findingFrames.insert(f.rawValue) } }
    }

    /// Whether a frame is one Linux believes shared or private only because it ignored
    /// a status (found so far).
    func isFinding(_ frame: GuestFrameNumber) -> Bool { counts.withLock { $0.findingFrames.contains(frame.rawValue) } }

    /// Records an operation that failed as a consequence of a status Linux ignored: a
    /// finding about Linux, not a failure; the run goes on.
    func noteConsequence(_ message: String) {
        counts.withLock { c in
            c.consequences += 1
            if c.consequenceSamples.count < 10 { c.consequenceSamples.append(message) }
        }
    }

    /// Counts isolation violations that a finding explains (claimed, not failures).
    func noteExplainedViolations(_ n: Int) { counts.withLock { $0.explainedViolations += n } }

    /// The violations up to `count` that no one has reported yet, claimed for reporting.
    func claimViolations(upTo count: Int) -> Range<Int>? {
        reportedViolations.withLock { r in
            guard count > r else { return nil }
            defer { r = count }
            return r..<count
        }
    }

    /// Serializes the vCPUs' dma-coherent allocations: a page one vCPU frees may be
    /// the next page another allocates, so the check that a freed page is private and
    /// out of the ledger is only sound while no other vCPU allocates.
    private let coherentLock = Lock(0)

    /// Runs a dma-coherent operation while no other vCPU runs one.
    func coherentTurn(_ body: () throws(SoakCheckFailure) -> Void) throws(SoakCheckFailure) {
        try coherentLock.withLock { (n: inout Int) throws(SoakCheckFailure) in
            n += 1
            try body()
        }
    }

    /// Set at the first failure: every thread stops at its next operation.
    private let stopped = Atomic<Bool>(false)

    /// Whether a failure asked everyone to stop.
    var isStopped: Bool { stopped.load(ordering: .relaxed) }

    /// Updates the counters.
    func update(_ body: (inout Counts) -> Void) { counts.withLock { body(&$0) } }

    /// A copy of the counters.
    var snapshot: Counts { counts.withLock { $0 } }

    /// Records a failure (the first ``SoakRunner/failureLimit`` are kept) and stops the run.
    func fail(_ failure: SoakFailure) {
        counts.withLock { c in
            switch failure.kind {
            case .checksumMismatch: break  // counted by sector where found
            case .invariant, .machine: c.invariantFailures += 1
            case .hang: break  // the report's hang
            case .stall: break  // the failure says which request and why
            case .operation: c.operationErrors += 1
            case .isolationViolation: break
            }
            if c.failures.count < SoakRunner.failureLimit { c.failures.append(failure) }
        }
        stopped.store(true, ordering: .relaxed)
    }
}
