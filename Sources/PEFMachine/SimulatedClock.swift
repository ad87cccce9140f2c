import Synchronization

/// Simulated time in nanoseconds: advanced by the firmware by the cost of what it
/// does (see ``CostModel``), never by the host's clock, so runs are reproducible.
public final class SimulatedClock: Sendable {
    private let nanoseconds = Atomic<UInt64>(0)

    /// A clock at zero.
    public init() {}

    /// Now, in simulated nanoseconds since the machine was built.
    public var now: UInt64 { nanoseconds.load(ordering: .relaxed) }

    /// Now, in simulated seconds.
    public var seconds: Double { Double(now) / 1e9 }

    /// Moves time forward by `delta` nanoseconds and returns the new time.
    @discardableResult
    public func advance(by delta: UInt64) -> UInt64 {
        nanoseconds.add(delta, ordering: .relaxed).newValue
    }
}
