import PEFMachine
import PowerABI

/// Bringing up secondary CPUs.
extension GuestKernel {
    /// Models `smp_startup_cpu()` (`arch/powerpc/platforms/pseries/smp.c`): RTAS
    /// `start-cpu` (token from `/rtas`) with (pcpu, start_here, r3 = pcpu), made by the
    /// boot CPU through `H_RTAS` with an argument block in kernel memory (on a secure
    /// guest the Ultravisor bounces it, rewrites r3 into a cookie and starts the vCPU in
    /// secure mode when the hypervisor enters it). `entry` stands for
    /// `generic_secondary_smp_init`. Returns whether the vCPU is running afterwards.
    func smpStartupCPU(_ cpu: Int, entry: UInt64, tree: DeviceTreeBootInfo) -> Bool {
        guard let token = try? tree.tree.u32("start-cpu", at: "/rtas") else {
            printk("smp: no start-cpu RTAS token")
            return false
        }
        let block: UInt64
        if let existing = state.withLock({ $0.rtasArgs }) {
            block = existing
        } else {
            guard case .success(let a) = allocatePages(bytes: PageSize.bytes, purpose: "rtas_args") else { return false }
            state.withLock { $0.rtasArgs = a }
            block = a
        }
        let boot = processor(0)
        let args = RTASArguments(
            token: token, arguments: [UInt32(cpu), UInt32(truncatingIfNeeded: entry), UInt32(cpu)], returnCount: 1)
        do {
            try boot.write(at: GuestPhysicalAddress(block), bytes: args.encoded, purpose: "rtas_args (start-cpu)")
        } catch {
            return false
        }
        let status = HypervisorStatus(register: boot.hypercall(.rtas, [block]).r3)
        let rets = (try? boot.read(at: GuestPhysicalAddress(block), count: RTASArguments.byteCount))
            .flatMap(RTASArguments.init(decoding:))?.returns.first
        guard status == .success, rets == 0 else {
            printk("smp: start-cpu \(cpu) failed: H_RTAS \(status), RTAS status \(rets.map { Int32(bitPattern: $0) }.map(String.init) ?? "?")")
            return false
        }
        return processor(cpu).snapshot.isRunning
    }
}
