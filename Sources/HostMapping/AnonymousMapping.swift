#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One private anonymous host mapping, readable and writable, zero-filled and reserved
/// lazily: the `mmap`/`munmap` pair behind guest RAM (PEFMachine's `GuestRAM`) and the
/// standalone SWIOTLB buffer (`HostBounceMemory`), written once.
///
/// The mapping uses `MAP_NORESERVE` on Linux: on a host with overcommit mode 0 a plain
/// 64 GiB anonymous mapping fails with ENOMEM, while this one succeeds and costs only
/// what is touched (ARCHITECTURE.md, memory model).
///
/// **Invariant (why `@unchecked Sendable` is sound):** ``base`` points to
/// ``byteCount`` bytes mapped in `init` and unmapped only in `deinit`; nothing else
/// frees or remaps them, and neither property ever changes. The type itself never reads
/// or writes the bytes: the owner that hands out access to them (`GuestRAM` under
/// `GuestMemory`'s page-table mutex, `HostBounceMemory` with its bounds checks) states
/// how concurrent access is kept sound.
public final class AnonymousMapping: @unchecked Sendable {
    /// The first byte of the mapping.
    public let base: UnsafeMutableRawPointer
    /// The length of the mapping in bytes (positive).
    public let byteCount: Int

    /// Maps `byteCount` bytes, or returns `nil` (with the host's `errno` left set) if
    /// `byteCount` is not positive or the host refuses the mapping.
    public init?(byteCount: Int) {
        guard byteCount > 0 else { return nil }
        #if canImport(Glibc)
            let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #else
            let flags = MAP_PRIVATE | MAP_ANON
        #endif
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        base = p
        self.byteCount = byteCount
    }

    deinit { munmap(base, byteCount) }
}
