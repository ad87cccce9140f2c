import DeviceTree
import PEFMachine
import PowerABI

/// The secure-guest part of prom_init, the kernel's Open Firmware client that runs
/// before the kernel proper (`arch/powerpc/kernel/prom_init.c`;
/// reference/linux-guest-facts.md §1.1).
///
/// It reads `/chosen/bootargs`, decides from `svm=` whether to ask for secure mode
/// (``SVMOption``), and if so makes the `UV_ESM` ultracall with `sc 2`
/// (`setup_secure_guest()`). On success the Ultravisor re-enters the kernel at
/// `kbase` in secure mode (r3 = fdt, r4 = kbase); on failure prom_init prints the
/// code and terminates the partition through RTAS `ibm,os-term`
/// (`prom_rtas_os_term()`), made with `H_RTAS` through `sc 1`.
public enum PromInit {
    /// The message prom_init hands to `ibm,os-term` (with Linux's trailing newline).
    public static let secureModeFailedMessage = "Switch to secure mode failed.\n"

    /// What happened.
    public enum Outcome: Hashable, Sendable {
        /// `svm=` is off: no ultracall was made.
        case normal
        /// `UV_ESM` succeeded: the vCPU re-entered at `kbase` with MSR(S) = 1.
        case secure(fdtAddress: UInt64, kernelBase: UInt64)
        /// `UV_ESM` failed with `status` and the partition was terminated by `ibm,os-term`.
        case terminated(status: Int64)
        /// `UV_ESM` failed, and `ibm,os-term` could not stop the partition: Linux then
        /// boots on as a normal guest (`prom_rtas_os_term()` returns).
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
    public static func run(
        vcpu: VirtualProcessor, fdtAddress: UInt64, kernelBase: UInt64, scratch: UInt64, log: inout KernelLog
    ) -> Outcome {
        let now = { vcpu.machine?.clock.seconds ?? 0 }
        let tree = readDeviceTree(vcpu: vcpu, at: fdtAddress)
        let bootargs = (try? tree?.string("bootargs", at: "/chosen")) ?? ""
        let commandLine = KernelCommandLine(String(bootargs.utf8.prefix(KernelCommandLine.maximumLength - 1)) ?? bootargs)
        log.print("command line: \(commandLine.text)", at: now())
        let svm = SVMOption(commandLine)
        for d in svm.diagnostics { log.print("svm: \(d)", at: now()) }
        guard svm.enabled else { return .normal }
        return setupSecureGuest(
            vcpu: vcpu, fdtAddress: fdtAddress, kernelBase: kernelBase, tree: tree, scratch: scratch, log: &log)
    }

    /// Models `setup_secure_guest()`: `UV_ESM(kbase, fdt)` with `sc 2`.
    public static func setupSecureGuest(
        vcpu: VirtualProcessor, fdtAddress: UInt64, kernelBase: UInt64, tree: DeviceTree?, scratch: UInt64,
        log: inout KernelLog
    ) -> Outcome {
        let now = { vcpu.machine?.clock.seconds ?? 0 }
        log.print("Switching to secure mode.", at: now())
        let regs = vcpu.ultracall(.enterSecureMode, [kernelBase, fdtAddress])
        if vcpu.isSecure && vcpu.pc == kernelBase && regs[3] == fdtAddress && regs[4] == kernelBase {
            return .secure(fdtAddress: fdtAddress, kernelBase: kernelBase)
        }
        let status = Int64(bitPattern: regs[3])
        log.print("Returned \(status) from switching to secure mode.", at: now())
        if let reason = promRTASOsTerm(vcpu: vcpu, tree: tree, message: secureModeFailedMessage, scratch: scratch) {
            log.print("prom_rtas_os_term: \(reason); booting on as a normal guest", at: now())
            return .failedButContinued(status: status, reason: reason)
        }
        return .terminated(status: status)
    }

    /// Models `prom_rtas_os_term()`: finds the `ibm,os-term` token in `/rtas`, fills
    /// `os_term_args` (nargs 1, nret 1, args[0] = the message's address) and calls
    /// `H_RTAS`. Returns `nil` when the partition stopped, else why it did not.
    static func promRTASOsTerm(vcpu: VirtualProcessor, tree: DeviceTree?, message: String, scratch: UInt64) -> String? {
        guard let tree, tree.hasNode("/rtas") else { return "no /rtas node" }
        guard let token = try? tree.u32(RTASService.osTerm, at: "/rtas"), token != 0 else {
            return "Could not get token for ibm,os-term"
        }
        let messageAddress = scratch + 0x80  // after the 84-byte rtas_args block
        let args = RTASArguments(token: token, arguments: [UInt32(truncatingIfNeeded: messageAddress)], returnCount: 1)
        do {
            try vcpu.write(at: GuestPhysicalAddress(messageAddress), bytes: Array(message.utf8) + [0], purpose: "os-term message")
            try vcpu.write(at: GuestPhysicalAddress(scratch), bytes: args.encoded, purpose: "os_term_args")
        } catch {
            return "cannot write os_term_args: \(error)"
        }
        let regs = vcpu.hypercall(.rtas, [scratch])
        if vcpu.machine?.isStopped ?? false { return nil }
        return "H_RTAS returned \(HypervisorStatus(register: regs[3])) and the partition kept running"
    }

    /// Reads the flattened device tree at `address` as this vCPU (header first, then
    /// `totalsize` bytes), or `nil` if it cannot be read or parsed.
    public static func readDeviceTree(vcpu: VirtualProcessor, at address: UInt64) -> DeviceTree? {
        guard let header = try? vcpu.read(at: GuestPhysicalAddress(address), count: DeviceTree.headerSize) else { return nil }
        let total = Int(BigEndianCells.u32(header, at: 4))
        guard total >= DeviceTree.headerSize, total <= 16 << 20,
            let bytes = try? vcpu.read(at: GuestPhysicalAddress(address), count: total)
        else { return nil }
        return try? DeviceTree(bytes: bytes)
    }
}
