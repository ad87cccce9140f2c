public import PowerABI

/// Why `set_memory_decrypted()` / `set_memory_encrypted()` refused. Linux returns an
/// error only for an unaligned address (`arch/powerpc/platforms/pseries/svm.c (6.12)`);
/// the Ultravisor's status is ignored, so a failed share or unshare is no error here
/// (the ledger writes it down, ``SharedPageLedger/ignoredStatuses``).
public enum MemoryEncryptionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The address is not page-aligned (Linux: `-EINVAL`).
    case unaligned(address: GuestPhysicalAddress)

    /// A sentence naming the address.
    public var description: String {
        switch self {
        case .unaligned(let a): "address \(a) is not page-aligned"
        }
    }
}
