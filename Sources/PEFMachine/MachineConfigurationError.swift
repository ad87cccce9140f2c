/// Why a `Machine` (or its `GuestMemory`) could not be built.
public enum MachineConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The memory size is zero, not a multiple of 64 KiB, or larger than SVMKit supports.
    case invalidMemorySize(bytes: UInt64, reason: String)
    /// The host refused the mapping (`errno` as reported by `mmap`).
    case mappingFailed(bytes: UInt64, errno: Int32)
    /// The vCPU count is outside 1…``MachineConfiguration/maximumProcessors``.
    case invalidProcessorCount(Int)
    /// The LPID is 0, which `UV_ESM` refuses (reference/ultravisor-facts.md §2.1).
    case invalidLPID(UInt64)

    /// Names the bad value.
    public var description: String {
        switch self {
        case .invalidMemorySize(let b, let r): "memory size \(b) bytes is invalid: \(r)"
        case .mappingFailed(let b, let e): "cannot map \(b) bytes of guest memory (errno \(e))"
        case .invalidProcessorCount(let n):
            "vCPU count \(n) is outside 1...\(MachineConfiguration.maximumProcessors)"
        case .invalidLPID(let l): "LPID \(l) is invalid: a partition needs a non-zero LPID"
        }
    }
}
