public import PowerABI

/// Why `set_memory_decrypted()` / `set_memory_encrypted()` refused or failed; each
/// case names the range.
public enum MemoryEncryptionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The address is not page-aligned (Linux: `-EINVAL`).
    case unaligned(address: UInt64)
    /// A negative page count.
    case invalidPageCount(Int)
    /// The range runs past the end of guest memory.
    case outOfRange(address: UInt64, pageCount: Int)
    /// A page of the range is quarantined after a failed unshare and must not be used.
    case quarantined(GuestFrameNumber)
    /// `UV_SHARE_PAGE` failed. The kernel then tried to undo any part-way progress
    /// with `UV_UNSHARE_PAGE`; `rolledBack` says whether that worked (if not, the
    /// range is quarantined). Either way the caller must treat the memory as private.
    case shareFailed(address: UInt64, pageCount: Int, status: UltravisorStatus, rolledBack: Bool)
    /// `UV_UNSHARE_PAGE` failed: the hypervisor may still see the range, so its pages
    /// were quarantined (kept out of normal use) rather than given back.
    case unshareFailed(address: UInt64, pageCount: Int, status: UltravisorStatus, quarantinedPages: Int)

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// A sentence naming the range and the status.
    public var description: String {
        switch self {
        case .unaligned(let a): "address \(Self.hex(a)) is not page-aligned"
        case .invalidPageCount(let n): "invalid page count \(n)"
        case .outOfRange(let a, let n): "\(n) page(s) at \(Self.hex(a)) run past the end of guest memory"
        case .quarantined(let f): "\(f) is quarantined after a failed unshare"
        case .shareFailed(let a, let n, let status, let rolledBack):
            "UV_SHARE_PAGE of \(n) page(s) at \(Self.hex(a)) failed with \(status.name)"
                + (rolledBack ? "; any part-way share was undone" : "; undoing it failed too, the pages are quarantined")
        case .unshareFailed(let a, let n, let status, let q):
            "UV_UNSHARE_PAGE of \(n) page(s) at \(Self.hex(a)) failed with \(status.name); \(q) page(s) quarantined"
        }
    }
}
