import PEFMachine
import PowerABI

/// kexec (reference/linux-guest-facts.md §1.7).
extension GuestKernel {
    /// The allocator's name for memory the kexec loader reserved for the previous
    /// kernel (``GuestKernelOptions/kexecReservations``).
    public static let previousKernelPurpose = "previous kernel (kexec)"

    /// `H_VPA_DEREG_SLB`: deregister the SLB shadow buffer.
    static let deregisterSLBShadow: UInt64 = 7

    /// Models the pseries kexec path up to the jump into the next image:
    ///
    /// 1. for a normal kexec, `device_shutdown()`: each virtual block device is reset
    ///    (`H_VIO_SIGNAL` reset), so the hypervisor forgets its queue;
    /// 2. `pseries_kexec_cpu_down()` (`arch/powerpc/platforms/pseries/kexec.c (6.1,
    ///    6.12)`) on every online CPU, the others first and the calling CPU last
    ///    (`kexec_smp_down()`, then `kexec_prepare_cpus()`; for a crash kexec
    ///    `crash_ipi_callback()` and `default_machine_crash_shutdown()` in
    ///    `arch/powerpc/kexec/crash.c`, which run it too: "Ensure vpa/slb_shadow/dtl
    ///    cleanup even while we are crashing"): `H_REGISTER_VPA` deregisters the DTL if
    ///    the LPPACA's `dtl_enable_mask` is set, then the SLB shadow (always), then the
    ///    VPA, each failure printing Linux's WARNING line. The XICS/XIVE teardown and
    ///    `pseries_disable_reloc_on_exc()` (`H_SET_MODE`) are not modelled;
    /// 3. `default_machine_kexec()` (`arch/powerpc/kexec/core_64.c (6.12)`): prints
    ///    "kexec: Starting switchover sequence." and, on a secure guest unless the image
    ///    is a crash kernel or preserves context, calls `UV_UNSHARE_ALL_PAGES`, ignores
    ///    its status, and prints "kexec: Unshared all shared pages.". The ledger then
    ///    holds nothing, as Linux believes; a non-zero status is written down in it.
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
        let (processors, enabled) = state.withLock { ($0.processors, $0.dtlEnableMask) }
        let online = processors.indices.filter { processors[$0].snapshot.isRunning }
        let order = online.filter { $0 != cpu } + online.filter { $0 == cpu }
        for c in order { pseriesKexecCPUDown(cpu: c, dtlEnabled: enabled.contains(c)) }
        printk("kexec: Starting switchover sequence.")
        var status: UltravisorStatus?
        if secure && kind == .normal {
            let s = UltravisorStatus(register: processor(cpu).ultracall(.unshareAllPages).r3)
            status = s
            printk("kexec: Unshared all shared pages.")
            state.withLock { st in
                for f in st.ledger.entries.keys { st.unsharedBy[f] = "default_machine_kexec (UV_UNSHARE_ALL_PAGES)" }
                st.ledger.removeAll(status: s, callSite: "default_machine_kexec")
            }
        }
        state.withLock { $0.phase = .kexeced(kind) }
        return KexecReport(
            kind: kind, secure: secure, unshareAllStatus: status, processorsTakenDown: order.count,
            devicesShutDown: devices)
    }

    /// Models `pseries_kexec_cpu_down()`'s hypervisor part on `cpu`'s own vCPU.
    func pseriesKexecCPUDown(cpu: Int, dtlEnabled: Bool) {
        if dtlEnabled {
            let r = vpaCall(Self.deregisterDTL, cpu: cpu, address: 0)
            if r != .success {
                printk("WARNING: DTL deregistration for cpu \(cpu) (hw \(cpu)) failed with \(r.rawValue)")
            }
        }
        let slb = vpaCall(Self.deregisterSLBShadow, cpu: cpu, address: 0)
        if slb != .success {
            printk("WARNING: SLB shadow buffer deregistration for cpu \(cpu) (hw \(cpu)) failed with \(slb.rawValue)")
        }
        let vpa = vpaCall(Self.deregisterVPA, cpu: cpu, address: 0)
        if vpa != .success {
            printk("WARNING: VPA deregistration for cpu \(cpu) (hw \(cpu)) failed with \(vpa.rawValue)")
        }
    }
}
