import Foundation
import Locking

/// How many children ``ChildProcess`` runs at once: as many as there are processors.
///
/// A synchronous `waitUntilExit()` used to hold one of the test runner's threads per
/// running child, so the tests never ran more children than the runner has threads.
/// Awaiting a child holds no thread, and without this bound every parallel test would
/// start its program at once, and timed runs (a two-second soak) would starve.
final class ChildProcessSlots: Sendable {
    /// The slots shared by every ``ChildProcess/run(_:_:input:directory:environment:mergingErrorIntoOutput:)``.
    static let shared = ChildProcessSlots(count: max(1, ProcessInfo.processInfo.activeProcessorCount))

    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Lock<State>

    init(count: Int) { state = Lock(State(free: count)) }

    /// Waits for a free slot and takes it.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiting.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Gives a slot back (to the longest waiter, if any).
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.free += 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}
