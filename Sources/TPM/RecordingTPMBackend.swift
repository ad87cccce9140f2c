import Locking

/// A ``TPMBackend`` that forwards every command to another backend and records what
/// happened: how many commands were sent, how many answered, and the transport
/// failures (the reasons the hypervisor answered `H_RESOURCE`,
/// reference/ultravisor-facts.md §2.7). The Ultravisor only sees the status, so this is
/// where the cause of a failed lockbox-1 unwrap (e.g. "swtpm at 127.0.0.1:2321:
/// connection refused") can be read back.
///
/// Thread-safe: the counters live under a `Mutex`; commands run outside it, so the
/// wrapped backend's own serialization applies.
public final class RecordingTPMBackend: TPMBackend, Sendable {
    /// At most this many failures are kept (the first ones).
    public static let failureLimit = 16

    /// The backend commands go to.
    public let backend: any TPMBackend

    private struct State {
        var commands = 0
        var answered = 0
        var closes = 0
        var failures: [TPMTransportError] = []
    }
    private let state = Lock(State())

    /// Wraps `backend`.
    public init(_ backend: any TPMBackend) {
        self.backend = backend
    }

    /// Commands sent to the backend (answered or not).
    public var commandCount: Int { state.withLock { $0.commands } }
    /// Commands the backend answered (with any TPM response code).
    public var answeredCount: Int { state.withLock { $0.answered } }
    /// `close()` calls (`H_TPM_COMM` operation 2).
    public var closeCount: Int { state.withLock { $0.closes } }
    /// The first ``failureLimit`` transport failures, in order.
    public var failures: [TPMTransportError] { state.withLock { $0.failures } }

    /// Forwards the command and records the outcome.
    public func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
        state.withLock { $0.commands += 1 }
        do {
            let response = try backend.execute(command)
            state.withLock { $0.answered += 1 }
            return response
        } catch {
            state.withLock { s in
                if s.failures.count < Self.failureLimit { s.failures.append(error) }
            }
            throw error
        }
    }

    /// Forwards `close()`.
    public func close() {
        state.withLock { $0.closes += 1 }
        backend.close()
    }
}
