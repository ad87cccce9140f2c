/// One `struct ratelimit_state` as `dev_warn_ratelimited()` defines it (a static state
/// per call site, `DEFAULT_RATELIMIT_INTERVAL` 5 s and `DEFAULT_RATELIMIT_BURST` 10:
/// `include/linux/dev_printk.h: dev_level_ratelimited`, `include/linux/ratelimit_types.h`,
/// 6.1 and 6.12), deciding as `lib/ratelimit.c: ___ratelimit (6.1, 6.12)` does: the
/// first call starts the window; once a call comes after `begin + interval`, the number
/// of messages missed in the old window is reported ("%s: %d callbacks suppressed",
/// with the caller's function name) and a new window starts; at most `burst` messages
/// print per window. Time is the machine's simulated time (jiffies).
struct KernelRatelimit: Hashable, Sendable {
    /// `DEFAULT_RATELIMIT_INTERVAL` (`5 * HZ`), in seconds.
    static let interval = 5.0
    /// `DEFAULT_RATELIMIT_BURST`.
    static let burst = 10

    /// `rs->begin` (`nil`: 0, no call yet).
    private var begin: Double?
    /// `rs->printed`.
    private var printed = 0
    /// `rs->missed`.
    private var missed = 0

    /// Decides one message at `now`: whether it prints, and how many earlier messages to
    /// report as suppressed first (0: no such line).
    mutating func allow(at now: Double) -> (print: Bool, suppressed: Int) {
        if begin == nil { begin = now }
        var suppressed = 0
        if let start = begin, start + Self.interval < now {
            suppressed = missed
            missed = 0
            begin = now
            printed = 0
        }
        guard printed < Self.burst else {
            missed += 1
            return (false, suppressed)
        }
        printed += 1
        return (true, suppressed)
    }
}
