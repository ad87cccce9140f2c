import DeviceTree
import PEFMachine
public import PowerABI

/// The secure-guest part of prom_init, the kernel's Open Firmware client that runs
/// before the kernel proper (`arch/powerpc/kernel/prom_init.c`;
/// reference/linux-guest-facts.md §1.1).
///
/// It reads `/chosen/bootargs`, decides from `svm=` whether to ask for secure mode
/// (``SVMOption``, prom_init's `prom_strstr()` reading), and if so makes the `UV_ESM`
/// ultracall with `sc 2` (`setup_secure_guest()`). On success the Ultravisor re-enters
/// the kernel at `kbase` in secure mode (r3 = fdt, r4 = kbase); a 0 status without
/// that entry lets prom_init go on as a normal guest; any other status is printed and
/// prom_init terminates the partition through RTAS `ibm,os-term`
/// (`prom_rtas_os_term()`, `H_RTAS` through `sc 1`), or `prom_panic()`s when `/rtas`
/// has no `ibm,os-term` token (`arch/powerpc/kernel/prom_init.c (6.12)`).
public enum PromInit {
    /// The message prom_init hands to `ibm,os-term` (with Linux's trailing newline).
    public static let secureModeFailedMessage = "Switch to secure mode failed.\n"

    /// What happened.
    public enum Outcome: Hashable, Sendable {
        /// `svm=` is off: no ultracall was made.
        case normal
        /// `UV_ESM` succeeded: the vCPU re-entered at `kbase` with MSR(S) = 1.
        case secure(fdtAddress: GuestPhysicalAddress, kernelBase: GuestPhysicalAddress)
        /// `UV_ESM` returned 0 (`U_SUCCESS`) but the vCPU did not come back in secure
        /// mode at `kbase` (e.g. an injected fault). `setup_secure_guest()` tests only
        /// `ret != U_SUCCESS`, so Linux goes on to `__start` as a normal guest.
        case normalAfterSuccess
        /// `UV_ESM` failed with `status` and the partition was terminated by `ibm,os-term`.
        case terminated(status: Int64)
        /// `UV_ESM` failed and `/rtas` has no `ibm,os-term` token: `prom_panic("Could
        /// not get token for ibm,os-term")` calls Open Firmware's `exit` and spins. The
        /// guest never boots on.
        case panicked(status: Int64, reason: String)
        /// `UV_ESM` failed, and `prom_rtas_os_term()` returned (no `/rtas` node, or
        /// `H_RTAS` came back): `setup_secure_guest()` returns and Linux boots on as a
        /// normal guest.
        case failedButContinued(status: Int64, reason: String)
    }

    /// Models prom_init's `early_cmdline_parse()` (the `svm=` part) and, when asked,
    /// `setup_secure_guest()`.
    ///
    /// - Parameters:
    ///   - vcpu: the boot vCPU, in normal supervisor state.
    ///   - fdtAddress: where the flattened device tree is (r5 of `UV_ESM`).
    ///   - kernelBase: the kernel's base and entry (r4 of `UV_ESM`).
    ///   - scratch: a guest address with 4 KiB free for prom_init's static data
    ///     (`os_term_args` and the message; in Linux they live in the kernel's BSS).
    ///   - log: the kernel log.
    ///
    /// Both are the same in every modelled series (``LinuxVersion``'s "checked and the
    /// same" list), so they take no series.
    public static func run(
        vcpu: VirtualProcessor, fdtAddress: GuestPhysicalAddress, kernelBase: GuestPhysicalAddress,
        scratch: GuestPhysicalAddress, log: inout KernelLog
    ) -> Outcome {
        let now = { vcpu.machine?.clock.seconds ?? 0 }
        let tree = readDeviceTree(vcpu: vcpu, at: fdtAddress)
        let bootargs = (try? tree?.string("bootargs", at: "/chosen")) ?? ""
        let commandLine = KernelCommandLine(String(bootargs.utf8.prefix(KernelCommandLine.maximumLength - 1)) ?? bootargs)
        log.print("command line: \(commandLine.text)", at: now())
        let svm = SVMOption(commandLine)
        for d in svm.diagnostics {
            log.print("SVMKit: svm: \(d.kind == .ambiguous ? "warning: " : "")\(d)", at: now())
        }
        guard svm.enabled else { return .normal }
        return setupSecureGuest(
            vcpu: vcpu, fdtAddress: fdtAddress, kernelBase: kernelBase, tree: tree, scratch: scratch, log: &log)
    }

    /// Models `setup_secure_guest()` (`arch/powerpc/kernel/prom_init.c:
    /// setup_secure_guest (6.12)`): `UV_ESM(kbase, fdt)` with `sc 2`, then, only when
    /// the 32-bit `int ret` is not `U_SUCCESS`, "Returned %d from switching to secure
    /// mode." and `prom_rtas_os_term()`.
    public static func setupSecureGuest(
        vcpu: VirtualProcessor, fdtAddress: GuestPhysicalAddress, kernelBase: GuestPhysicalAddress, tree: DeviceTree?,
        scratch: GuestPhysicalAddress, log: inout KernelLog
    ) -> Outcome {
        let now = { vcpu.machine?.clock.seconds ?? 0 }
        log.print("Switching to secure mode.", at: now())
        let regs = vcpu.ultracall(.enterSecureMode, [kernelBase.rawValue, fdtAddress.rawValue])
        if vcpu.isSecure && vcpu.pc == kernelBase.rawValue && regs[3] == fdtAddress.rawValue
            && regs[4] == kernelBase.rawValue
        {
            return .secure(fdtAddress: fdtAddress, kernelBase: kernelBase)
        }
        // enter_secure_mode() returns r3 into an `int`.
        let ret = Int32(truncatingIfNeeded: regs[3])
        guard ret != 0 else {
            log.print(
                "SVMKit: UV_ESM returned 0 (r3 = 0x\(String(regs[3], radix: 16))) without entering secure mode; prom_init goes on to __start as a normal guest",
                at: now())
            return .normalAfterSuccess
        }
        let status = Int64(ret)
        log.print("Returned \(ret) from switching to secure mode.", at: now())
        switch promRTASOsTerm(
            vcpu: vcpu, tree: tree, message: secureModeFailedMessage, scratch: scratch)
        {
        case .stopped:
            return .terminated(status: status)
        case .panic(let reason):
            log.print(reason, at: now())
            return .panicked(status: status, reason: reason)
        case .returned(let reason):
            log.print("SVMKit: prom_rtas_os_term returned (\(reason)); prom_init goes on to __start as a normal guest", at: now())
            return .failedButContinued(status: status, reason: reason)
        }
    }

    /// How `prom_rtas_os_term()` ended.
    enum OsTermResult: Hashable, Sendable {
        /// The partition stopped.
        case stopped
        /// `prom_panic()` with this message: the guest never boots on.
        case panic(String)
        /// It returned, for this reason.
        case returned(String)
    }

    /// Models `prom_rtas_os_term()` (`arch/powerpc/kernel/prom_init.c:
    /// prom_rtas_os_term (6.12)`): no `/rtas` node → returns silently; a missing or
    /// zero `ibm,os-term` token → `prom_panic("Could not get token for ibm,os-term")`;
    /// otherwise fills `os_term_args` (nargs 1, nret 1, args[0] = the message's
    /// address) and calls `H_RTAS`. Every modelled series fills the arguments: fix
    /// 74bb84e51171 (v5.7; facts §1.1, before it only the token was set and the
    /// hypervisor read the message from guest address 0) is in 5.4.y
    /// (`prom_init.c: prom_rtas_os_term (5.4.301, 5.10.265, 6.1, 6.12)`).
    static func promRTASOsTerm(
        vcpu: VirtualProcessor, tree: DeviceTree?, message: String, scratch: GuestPhysicalAddress
    ) -> OsTermResult {
        guard let tree, tree.hasNode("/rtas") else { return .returned("no /rtas node") }
        // prom_getprop() into a zeroed `val`: a missing property leaves the token 0.
        let token = (try? tree.u32(RTASService.osTerm.name, at: "/rtas")) ?? 0
        guard token != 0 else { return .panic("Could not get token for ibm,os-term") }
        // After the 84-byte rtas_args block.
        guard let messageAddress = scratch.advanced(by: 0x80) else {
            return .returned("cannot write os_term_args: no room after \(scratch)")
        }
        let args = RTASArguments(
            token: token, arguments: [UInt32(truncatingIfNeeded: messageAddress.rawValue)], returnCount: 1)
        do {
            try vcpu.write(at: messageAddress, bytes: Array(message.utf8) + [0], purpose: "os-term message")
            try vcpu.write(at: scratch, bytes: args.encoded, purpose: "os_term_args")
        } catch {
            return .returned("cannot write os_term_args: \(error)")
        }
        let regs = vcpu.hypercall(.rtas, [scratch.rawValue])
        if vcpu.machine?.isStopped ?? false { return .stopped }
        return .returned("H_RTAS returned \(HypervisorStatus(register: regs[3])) and the partition kept running")
    }

    /// Reads the flattened device tree at `address` as this vCPU (header first, then
    /// `totalsize` bytes), or `nil` if it cannot be read or parsed.
    public static func readDeviceTree(vcpu: VirtualProcessor, at address: GuestPhysicalAddress) -> DeviceTree? {
        guard let header = try? vcpu.read(at: address, count: DeviceTree.headerSize) else { return nil }
        let total = Int(BigEndianCells.u32(header, at: 4))
        guard total >= DeviceTree.headerSize, total <= 16 << 20,
            let bytes = try? vcpu.read(at: address, count: total)
        else { return nil }
        return try? DeviceTree(bytes: bytes)
    }
}
