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

extension GuestKernel {
    /// `dev_warn_ratelimited()` of SWIOTLB's "swiotlb buffer is full" line
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.1, 6.12)`), through the kernel's
    /// one rate-limit state for that call site (``KernelRatelimit``): a block request
    /// requeued for a full pool retries its map, and Linux's log shows ten lines per five
    /// seconds, then "swiotlb_tbl_map_single: N callbacks suppressed". (Linux prefixes
    /// the device's driver and name, e.g. `virtio-pci 0000:00:05.0: `; SVMKit's devices
    /// have no PCI names, so the line starts at the message.)
    func warnSWIOTLBFull(_ message: String) {
        warnRatelimited(message, state: \.swiotlbFullRatelimit)
    }

    /// `dev_warn_ratelimited()` of `swiotlb_tbl_map_single()`'s other line, "Can not
    /// allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce
    /// buffer" for a forced map with no pool (`kernel/dma/swiotlb.c:
    /// swiotlb_tbl_map_single (6.1, 6.12)`), through that call site's own state.
    func warnSWIOTLBNoPool(_ message: String) {
        warnRatelimited(message, state: \.swiotlbNoPoolRatelimit)
    }

    /// One `dev_warn_ratelimited()` call site of `swiotlb_tbl_map_single()`, whose static
    /// state is `ratelimit`.
    private func warnRatelimited(_ message: String, state ratelimit: WritableKeyPath<KernelState, KernelRatelimit>) {
        let now = machine.clock.seconds
        state.withLock { s in
            let (print, suppressed) = s[keyPath: ratelimit].allow(at: now)
            if suppressed > 0 { s.log.print("swiotlb_tbl_map_single: \(suppressed) callbacks suppressed", at: now) }
            if print { s.log.print(message, at: now) }
        }
    }
}
