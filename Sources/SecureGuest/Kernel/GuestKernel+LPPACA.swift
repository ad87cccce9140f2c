import PEFMachine
import PowerABI

/// LPPACAs (Virtual Processor Areas) and their registration
/// (reference/linux-guest-facts.md §1.4).
extension GuestKernel {
    /// `H_VPA_FUNC_SHIFT`: the `H_REGISTER_VPA` sub-function sits at bit 45 of r4.
    static let vpaFunctionShift: UInt64 = 45
    /// `H_VPA_REG_VPA`, `H_VPA_REG_DTL`, `H_VPA_DEREG_VPA`, `H_VPA_DEREG_DTL`.
    static let registerVPA: UInt64 = 1, registerDTL: UInt64 = 2, deregisterVPA: UInt64 = 5, deregisterDTL: UInt64 = 6

    /// Models `allocate_paca()` → `new_lppaca()` for every possible CPU
    /// (`arch/powerpc/kernel/paca.c: alloc_shared_lppaca, new_lppaca (6.12)`).
    ///
    /// On a secure guest `alloc_shared_lppaca()` carves all LPPACAs from one
    /// page-aligned region of PAGE_ALIGN(nr_cpu_ids × 0x400) bytes, allocated at the
    /// boot CPU's call in `early_setup()`, while `nr_cpu_ids` is still `NR_CPUS`
    /// (`regionCPUs`; 2 MiB for 2048), bottom-up
    /// below the PACA limit, and shares it with one `UV_SHARE_PAGE` the first time
    /// (before `init_lppaca()` writes into it, since sharing zeroes the pages). The
    /// PACA limit is min(`ppc64_bolted_size()`, `ppc64_rma_size`), which is unlimited
    /// under radix, the only MMU mode of a secure guest. Otherwise each CPU gets its own
    /// 1 KiB, 1 KiB-aligned LPPACA and nothing is shared.
    func allocateLPPACAs(cpuCount: Int, regionCPUs: Int, secure: Bool, memblock: inout Memblock)
        throws(GuestKernelError) -> (
        addresses: [UInt64], region: SharedLPPACARegion?
    ) {
        var addresses: [UInt64] = []
        addresses.reserveCapacity(cpuCount)
        var region: SharedLPPACARegion?
        if secure {
            let size = SharedLPPACARegion.totalSize(cpuCount: regionCPUs)
            let base: UInt64
            do {
                base = try memblock.allocate(
                    size: size, alignment: PageSize.bytes,
                    limit: GuestPhysicalAddress(0)..<GuestPhysicalAddress(memblock.memorySize), bottomUp: true,
                    purpose: SharedPageOwner.lppaca.rawValue
                ).rawValue
            } catch {
                throw .allocation(error)
            }
            var r = SharedLPPACARegion(base: GuestPhysicalAddress(base), cpuCount: regionCPUs)
            if options.bugs.contains(.skipLPPACAShare) {
                printk("SVMKit bug: alloc_shared_lppaca() skips uv_share_page()")
            } else {
                // paca.c: alloc_shared_lppaca (6.12) ignores uv_share_page()'s result.
                uvSharePage(
                    first: GuestPhysicalAddress(base).frame, count: size >> PageSize.shift, owner: .lppaca,
                    callSite: "alloc_shared_lppaca")
                printk(
                    "SVMKit: alloc_shared_lppaca: \(cpuCount) LPPACA(s) in [mem 0x\(String(base, radix: 16))-0x\(String(base + size - 1, radix: 16))], shared with one UV_SHARE_PAGE")
            }
            for _ in 0..<cpuCount {
                do {
                    addresses.append(try r.next().rawValue)
                } catch {
                    throw .lppacaOverflow(error)
                }
            }
            region = r
        } else {
            for _ in 0..<cpuCount {
                do {
                    addresses.append(
                        try memblock.allocate(
                            size: UInt64(LPPACALayout.allocationSize), alignment: UInt64(LPPACALayout.allocationSize),
                            purpose: SharedPageOwner.lppaca.rawValue
                        ).rawValue)
                } catch {
                    throw .allocation(error)
                }
            }
        }
        let boot = processor(0)
        for a in addresses { try initLPPACA(at: a, vcpu: boot) }
        return (addresses, region)
    }

    /// Models `init_lppaca()`: `desc` and `size`, the rest zero.
    func initLPPACA(at address: UInt64, vcpu: VirtualProcessor) throws(GuestKernelError) {
        var bytes = [UInt8](repeating: 0, count: 8)
        let d = LPPACALayout.descriptorValue
        bytes[0] = UInt8(d >> 24)
        bytes[1] = UInt8(d >> 16 & 0xFF)
        bytes[2] = UInt8(d >> 8 & 0xFF)
        bytes[3] = UInt8(d & 0xFF)
        bytes[4] = UInt8(UInt64(LPPACALayout.allocationSize) >> 8)
        bytes[5] = UInt8(UInt64(LPPACALayout.allocationSize) & 0xFF)
        do {
            try vcpu.write(at: GuestPhysicalAddress(address), bytes: bytes, purpose: "init_lppaca")
        } catch {
            throw .memory(error, purpose: "init_lppaca at 0x\(String(address, radix: 16))")
        }
    }

    /// Models `register_vpa()` / `register_dtl()` (`vpa_call()` in
    /// `arch/powerpc/platforms/pseries/plpar_wrappers.h`): `H_REGISTER_VPA` with the
    /// sub-function at bit 45 of r4, the hardware CPU in r5 and the area in r6, made on
    /// that CPU's own vCPU.
    func vpaCall(_ subFunction: UInt64, cpu: Int, address: UInt64) -> HypervisorStatus {
        let vcpu = processor(cpu)
        let r = vcpu.hypercall(.registerVPA, [subFunction << Self.vpaFunctionShift, UInt64(cpu), address])
        return HypervisorStatus(register: r.r3)
    }

    /// Models `vpa_init(cpu)` (`arch/powerpc/platforms/pseries/lpar.c: vpa_init (6.12)`):
    /// registers the CPU's VPA (whether or not its LPPACA's share worked: Linux does not
    /// know) and, if that worked, `register_dtl_buffer()`, printing Linux's WARNING lines
    /// when the hypervisor refuses. The SLB shadow is registered only under the hash
    /// MMU, which a secure guest never uses.
    func vpaInit(cpu: Int) {
        let vpa = state.withLock { s in s.lppacas.indices.contains(cpu) ? s.lppacas[cpu] : nil }
        guard let vpa else { return }
        let status = vpaCall(Self.registerVPA, cpu: cpu, address: vpa)
        if status != .success {
            printk(
                "WARNING: VPA registration for cpu \(cpu) (hw \(cpu)) of area \(String(vpa, radix: 16)) failed with \(status.rawValue)"
            )
            let failure = RegistrationFailure(cpu: cpu, area: .vpa, address: GuestPhysicalAddress(vpa), status: status)
            state.withLock { $0.vpaFailures.append(failure) }
            record(registrationFault(failure, owner: .lppaca))
            return
        }
        registerDTLBuffer(cpu: cpu)
    }

    /// Models `register_dtl_buffer(cpu)` (`lpar.c: register_dtl_buffer (6.12)`): if the
    /// CPU has a DTL and `dtl_mask` is set (``GuestKernelOptions/dispatchTraceLogs``,
    /// `CONFIG_VIRT_CPU_ACCOUNTING_NATIVE`), `H_REGISTER_VPA` (DTL), a WARNING if the
    /// hypervisor refuses, and `dtl_enable_mask` set in the LPPACA either way (which
    /// `pseries_kexec_cpu_down()` later reads). Whether the DTL page was shared is not
    /// checked: Linux does not know.
    func registerDTLBuffer(cpu: Int) {
        guard options.dispatchTraceLogs,
            let address = state.withLock({ s in s.dtls.indices.contains(cpu) ? s.dtls[cpu] : nil })
        else { return }
        let status = vpaCall(Self.registerDTL, cpu: cpu, address: address)
        state.withLock { _ = $0.dtlEnableMask.insert(cpu) }
        guard status != .success else { return }
        printk("WARNING: DTL registration of cpu \(cpu) (hw \(cpu)) failed with \(status.rawValue)")
        let failure = RegistrationFailure(cpu: cpu, area: .dtl, address: GuestPhysicalAddress(address), status: status)
        state.withLock { $0.dtlFailures.append(failure) }
        record(registrationFault(failure, owner: .dtl))
    }

    private func registrationFault(_ f: RegistrationFailure, owner: SharedPageOwner) -> GuestFault {
        let shared = state.withLock { $0.ledger.entries[f.address.frame] != nil }
        return GuestFault(
            kind: .registrationFailed, address: f.address, owner: owner, region: owner.rawValue,
            culprit: shared
                ? "the hypervisor refused the \(f.area.rawValue) of cpu \(f.cpu)"
                : "\(owner.sharingFunction) did not share the \(f.area.rawValue) of cpu \(f.cpu)",
            detail: f.description)
    }
}
