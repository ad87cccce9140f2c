#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Mutable state behind a `pthread_mutex_t`: the one lock type of SVMKit's simulator.
///
/// Why not `Synchronization.Mutex`: on Linux its contended path hands the lock over in
/// the kernel (`FUTEX_LOCK_PI`/`FUTEX_UNLOCK_PI`), which the thread sanitizer cannot
/// see, so every contended `withLock` is reported as a data race (reproduced with a
/// four-thread counter whose total is right); a sanitizer run that cries wolf checks
/// nothing. glibc's mutex is intercepted by the sanitizer, and uncontended it costs
/// about 4 ns against `Mutex`'s 10 (reference/swift-notes.md §3.2). The mutex lives in
/// its own heap allocation and is never stored inline in a Swift `var`
/// (reference/swift-notes.md §5, item 9).
///
/// `State` may be noncopyable (a socket owner, say).
///
/// ```swift
/// let counter = Lock(0)
/// counter.withLock { $0 += 1 }
/// ```
public final class Lock<State: ~Copyable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    /// A lock guarding `initial`.
    public init(_ initial: consuming State) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        state = initial
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state. Not reentrant: calling
    /// `withLock` on the same lock from `body` deadlocks.
    @inline(__always)
    public func withLock<Result, Failure: Error>(
        _ body: (inout State) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
