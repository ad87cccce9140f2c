public import PEFMachine
public import PowerABI

/// Why the guest kernel could not boot or do what it was asked; each case names the
/// input or address that was wrong.
public enum GuestKernelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `start` was called on a kernel that already started (build a new kernel for the
    /// next boot, e.g. after kexec).
    case alreadyStarted
    /// The kernel is not running (not started yet, or it kexec'ed away).
    case notRunning(phase: String)
    /// `start` got no vCPUs.
    case noProcessors
    /// A vCPU given to `start` belongs to another machine (or none).
    case foreignProcessor(index: Int)
    /// A secondary vCPU's MSR(S) differs from the boot vCPU's: the Ultravisor starts
    /// every vCPU of a secure guest in secure mode, so this guest is inconsistent.
    case mixedSecurity(vcpu: Int, bootIsSecure: Bool)
    /// The flattened device tree at `address` could not be read or parsed.
    case deviceTree(address: GuestPhysicalAddress, reason: String)
    /// An early allocation failed (Linux panics).
    case allocation(Memblock.AllocationError)
    /// The shared LPPACA region overflowed (`BUG_ON()` in `alloc_shared_lppaca()`).
    case lppacaOverflow(SharedLPPACARegion.OverflowError)
    /// A guest-memory access the kernel needed failed (for example the SVM was killed).
    case memory(MemoryAccessError, purpose: String)

    /// A sentence naming what went wrong.
    public var description: String {
        switch self {
        case .alreadyStarted: "the kernel has already started"
        case .notRunning(let phase): "the kernel is not running (\(phase))"
        case .noProcessors: "no vCPUs to run on"
        case .foreignProcessor(let i): "vCPU \(i) does not belong to this kernel's machine"
        case .mixedSecurity(let v, let boot):
            "vCPU \(v) has MSR(S)=\(boot ? 0 : 1) but the boot vCPU has MSR(S)=\(boot ? 1 : 0)"
        case .deviceTree(let a, let why): "device tree at \(a): \(why)"
        case .allocation(let e): e.description
        case .lppacaOverflow(let e): e.description
        case .memory(let e, let purpose): "\(purpose): \(e)"
        }
    }
}
