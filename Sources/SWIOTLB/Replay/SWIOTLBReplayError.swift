/// Why a replay trace could not be read. Every case names where in the file the
/// problem is, so a stream recorded elsewhere can be fixed by hand.
public enum SWIOTLBReplayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file is not JSON, or its top level is neither a scenario nor `{"scenarios": [...]}`.
    case malformed(String)
    /// Scenario `scenario`'s pool is missing, malformed or not replayable.
    case invalidPool(scenario: Int, reason: String)
    /// Op `index` of scenario `scenario` is malformed or names an id it cannot.
    case invalidOperation(scenario: Int, index: Int, reason: String)

    /// The message, naming scenario and op index.
    public var description: String {
        switch self {
        case .malformed(let reason): "replay trace: \(reason)"
        case .invalidPool(let scenario, let reason): "replay trace: scenario \(scenario): pool: \(reason)"
        case .invalidOperation(let scenario, let index, let reason):
            "replay trace: scenario \(scenario): op \(index): \(reason)"
        }
    }

    /// The same error, placed in scenario `index`.
    func inScenario(_ index: Int) -> SWIOTLBReplayError {
        switch self {
        case .malformed: self
        case .invalidPool(_, let reason): .invalidPool(scenario: index, reason: reason)
        case .invalidOperation(_, let op, let reason): .invalidOperation(scenario: index, index: op, reason: reason)
        }
    }
}
