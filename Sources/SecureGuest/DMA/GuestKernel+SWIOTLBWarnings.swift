/// SWIOTLB's rate-limited warnings, each through its call site's ``KernelRatelimit``.
extension GuestKernel {
    /// `dev_warn_ratelimited()` of SWIOTLB's "swiotlb buffer is full" line
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.1, 6.12)`), through the kernel's
    /// one rate-limit state for that call site (``KernelRatelimit``): a block request
    /// requeued for a full pool retries its map, and Linux's log shows ten lines per five
    /// seconds, then "swiotlb_tbl_map_single: N callbacks suppressed". (Linux prefixes
    /// the device's driver and name, e.g. `virtio-pci 0000:00:05.0: `; SVMKit's devices
    /// have no PCI names, so the line starts at the message.) The guest also prints the
    /// line for an oversize map (``oversizeMapLine(_:size:device:pool:)``). 5.10 uses the
    /// same macro; 5.4 `printk_ratelimit()`, the same interval and burst in one state
    /// shared with its other callers (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single
    /// (5.4.301, 5.10.265)`), modelled as this call site's own.
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
