#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// Waiting for bounce slots to come free: how a block request that `queue_rq()`
/// returned `BLK_STS_RESOURCE` for (the pool was full) gets run again
/// (``VirtualBlockDriver``).
extension GuestKernel {
    /// Bounce mappings released so far: read it before a map, and pass it to
    /// ``waitForBounceRelease(since:timeout:)`` when the map finds the pool full, so that
    /// a release between the two is not missed.
    public var bounceReleaseCount: UInt64 { bounceReleases.load(ordering: .acquiring) }

    /// Waits until another mapping is released after `generation` (a value of
    /// ``bounceReleaseCount``), at most `timeout` of host time; returns whether one was
    /// (or the kernel stopped running, e.g. another CPU hung in 6.1's slot search, so
    /// that the retry fails at once instead of waiting out the timeout).
    ///
    /// Linux reruns a queue whose request got `BLK_STS_RESOURCE` when one of its requests
    /// completes (`SCHED_RESTART`) or after `BLK_MQ_RESOURCE_DELAY` (3 ms) when nothing
    /// would restart it (`block/blk-mq.c: blk_mq_dispatch_rq_list (6.1, 6.12)`), and the
    /// map succeeds once enough slots are free. SVMKit retries at each release instead of
    /// on a timer (the outcome is the same, only the count of retries differs) and, unlike
    /// Linux, stops waiting after `timeout`, so a request nothing will ever make room for
    /// is reported as a stall rather than waiting for ever.
    public func waitForBounceRelease(since generation: UInt64, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while bounceReleases.load(ordering: .acquiring) == generation {
            guard ContinuousClock.now < deadline else { return false }
            guard phase == .running else { return true }
            usleep(50)
        }
        return true
    }
}
