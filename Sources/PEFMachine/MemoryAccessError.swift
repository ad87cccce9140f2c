import PowerABI

/// Why a guest-memory access failed.
public enum MemoryAccessError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The range does not lie inside guest memory (or its end wraps).
    case outOfRange(address: GuestPhysicalAddress, count: UInt64, memoryBytes: UInt64)
    /// The access broke isolation; the record is also in `GuestMemory.violations`.
    case isolationViolation(IsolationViolation)
    /// The access killed the SVM; the record is also in `GuestMemory.kill`.
    case svmKilled(SVMKill)
    /// The page is in a state this actor cannot touch right now (paged out for the
    /// Ultravisor, a transient share state for the guest), and no fault handler fixed it.
    case pageUnavailable(address: GuestPhysicalAddress, state: PageState, caller: Caller)
    /// A `withUnsafe…` range would need two backings (a pseudo-shared page seen by the
    /// hypervisor is not in the main mapping), so no single pointer can cover it.
    case notContiguous(address: GuestPhysicalAddress, count: UInt64)

    /// Says which address and why.
    public var description: String {
        switch self {
        case .outOfRange(let a, let n, let size):
            "\(n) bytes at \(a) are outside guest memory (0x\(String(size, radix: 16)) bytes)"
        case .isolationViolation(let v): "isolation violation: \(v)"
        case .svmKilled(let k): k.description
        case .pageUnavailable(let a, let s, let c): "\(c) cannot touch page \(a) in state \(s)"
        case .notContiguous(let a, let n): "\(n) bytes at \(a) are not backed by one contiguous mapping"
        }
    }
}
