import PEFMachine
import PowerABI

/// kexec (reference/linux-guest-facts.md §1.7).
extension GuestKernel {
    /// Models the pseries kexec path up to the jump into the next image:
    ///
    /// 1. for a normal kexec, `device_shutdown()`: each virtual block device is reset
    ///    (`H_VIO_SIGNAL` reset), so the hypervisor forgets its queue;
    /// 2. `pseries_kexec_cpu_down()` on every CPU: deregister the DTL and the VPA with
    ///    `H_REGISTER_VPA`, except when crashing ("Don't risk a hypervisor call if
    ///    we're crashing", `arch/powerpc/platforms/pseries/kexec.c`; inference from that
    ///    code, not in the facts file);
    /// 3. `default_machine_kexec()` (`arch/powerpc/kexec/core_64.c`): prints
    ///    "kexec: Starting switchover sequence." and, on a secure guest unless the image
    ///    is a crash kernel or preserves context, calls `UV_UNSHARE_ALL_PAGES` and prints
    ///    "kexec: Unshared all shared pages." (Linux ignores the status; SVMKit empties
    ///    the ledger only when it succeeded and records a fault when it did not).
    ///
    /// The kernel is then gone (``GuestKernelPhase/kexeced(_:)``). The next kernel is a
    /// new ``GuestKernel`` on the same machine: its vCPUs still have MSR(S) set, and it
    /// shares its own structures again when it starts.
    public func kexec(_ kind: KexecKind, cpu: Int = 0) throws(GuestKernelError) -> KexecReport {
        try requireRunning()
        let secure = isSecureGuest
        var devices = 0
        if kind == .normal {
            let queues = state.withLock { $0.blockQueues }
            for unit in queues.keys.sorted() {
                _ = processor(cpu).hypercall(.vioSignal, [UInt64(unit), VirtualBlockProtocol.Mode.reset.rawValue])
                devices += 1
            }
            state.withLock { $0.blockQueues.removeAll() }
        }
        var takenDown = 0
        if kind != .crash {
            let (cpus, dtls, vpas) = state.withLock { ($0.processors.count, $0.dtls, $0.lppacas) }
            for c in 0..<cpus {
                if dtls.indices.contains(c), dtls[c] != nil { _ = vpaCall(Self.deregisterDTL, cpu: c, address: 0) }
                if vpas.indices.contains(c) { _ = vpaCall(Self.deregisterVPA, cpu: c, address: 0) }
                takenDown += 1
            }
        }
        printk("kexec: Starting switchover sequence.")
        var status: UltravisorStatus?
        if secure && kind == .normal {
            let s = UltravisorStatus(register: processor(cpu).ultracall(.unshareAllPages).r3)
            status = s
            printk("kexec: Unshared all shared pages.")
            if s == .success {
                state.withLock { st in
                    for f in st.ledger.entries.keys { st.unsharedBy[f] = "default_machine_kexec (UV_UNSHARE_ALL_PAGES)" }
                    st.ledger.removeAll()
                }
            } else {
                record(
                    GuestFault(
                        kind: .quarantine, address: nil, owner: nil, region: nil,
                        culprit: "UV_UNSHARE_ALL_PAGES failed: the next kernel inherits shared pages",
                        detail: "\(s)"))
            }
        }
        state.withLock { $0.phase = .kexeced(kind) }
        return KexecReport(
            kind: kind, secure: secure, unshareAllStatus: status, processorsTakenDown: takenDown,
            devicesShutDown: devices, audit: audit("after kexec (\(kind.rawValue))"))
    }
}
