import Locking

/// A ``SWIOTLBTraceRecorder`` that keeps what it sees as a ``SWIOTLBReplayTrace``:
/// `svmkit boot --swiotlb-trace FILE` and `svmkit soak --swiotlb-trace FILE` install
/// one in the guest kernel, and `svmkit swiotlb advise FILE` (or `replay`) reads what
/// it wrote.
///
/// Each default pool the guest creates (one per boot, a new one after every kexec)
/// starts a scenario with ``begin(name:pool:)``; maps get ids in order, and an unmap
/// is matched to its map by bounce address (the pool's own identity for a mapping).
/// A map that failed is recorded as a map followed at once by its unmap: the request
/// needed room at that instant, and the driver got none to keep. Maps that a growing
/// pool placed in an added pool are recorded like the others, so replaying the trace
/// on the default pool alone asks how large it should have been. Events before the
/// first ``begin(name:pool:)`` and unmaps of addresses it never saw mapped (misuse the
/// pool refused) are not recorded.
///
/// Safe from any thread: events are serialized by one lock.
public final class SWIOTLBTraceLog: SWIOTLBTraceRecorder, Hashable {
    private struct State {
        var scenarios: [SWIOTLBReplayScenario] = []
        var ids: [UInt64: UInt64] = [:]
        var nextID: UInt64 = 1
    }

    private let state = Lock(State())

    /// An empty log.
    public init() {}

    /// Starts a new scenario for `pool` (its start, slots, areas and page size), named
    /// `name`, or `name N` for the N-th scenario after the first.
    public func begin(name: String, pool: SWIOTLBPool) {
        let replayPool = SWIOTLBReplayPool(
            start: pool.region.base, nslabs: pool.slotCount, nareas: pool.areaCount, pageSize: pool.pageSize)
        state.withLock { s in
            let n = s.scenarios.count + 1
            s.scenarios.append(SWIOTLBReplayScenario(name: n == 1 ? name : "\(name) \(n)", pool: replayPool, ops: []))
            s.ids = [:]
        }
    }

    /// Records one pool call (``SWIOTLBTraceRecorder``).
    public func record(_ event: SWIOTLBTraceEvent) {
        state.withLock { s in
            guard let last = s.scenarios.indices.last else { return }
            switch event {
            case .map(let m):
                let id = s.nextID
                s.nextID &+= 1
                s.scenarios[last].ops.append(
                    .map(
                        SWIOTLBReplayMap(
                            id: id, origAddr: m.original, size: m.size, allocAlignMask: m.allocAlignMask,
                            minAlignMask: m.device.minAlignMask, segBoundaryMask: m.device.segmentBoundaryMask,
                            cpu: m.cpu)))
                if let address = m.address {
                    s.ids[address] = id
                } else {
                    s.scenarios[last].ops.append(.unmap(id: id))
                }
            case .unmap(let address, _):
                guard let id = s.ids.removeValue(forKey: address) else { return }
                s.scenarios[last].ops.append(.unmap(id: id))
            }
        }
    }

    /// What has been recorded so far.
    public var trace: SWIOTLBReplayTrace { state.withLock { SWIOTLBReplayTrace(scenarios: $0.scenarios) } }

    /// The same log (identity).
    public static func == (lhs: SWIOTLBTraceLog, rhs: SWIOTLBTraceLog) -> Bool { lhs === rhs }

    /// Hashes the identity.
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
