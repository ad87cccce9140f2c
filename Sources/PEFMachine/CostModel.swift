/// The simulated cost, in nanoseconds, of what the firmware does.
///
/// The defaults are plausible POWER9 figures, not measurements: an `sc` round trip of
/// a few hundred nanoseconds, a 64 KiB copy at DRAM speed (about 20 GB/s, reference
/// swift-notes §3.1), AES-GCM at about 3 GB/s per page. For scale, the only published
/// PEF number, 4.2 s per GB to go secure before Linux 5.9 (linux-guest-facts §3.6),
/// is about 256 µs per 64 KiB page: dominated by the page-in protocol, not the copy.
public struct CostModel: Hashable, Sendable {
    /// `sc 2` into the Ultravisor and back.
    public var ultracall: UInt64 = 250
    /// `sc 1` into the hypervisor and back.
    public var hypercall: UInt64 = 400
    /// The Ultravisor's extra work to reflect an hcall (save, scrub, `UV_RETURN`).
    public var reflection: UInt64 = 700
    /// Copying one 64 KiB page.
    public var pageCopy: UInt64 = 3_200
    /// Zeroing one 64 KiB page.
    public var pageZero: UInt64 = 1_600
    /// Changing a page's state without touching its contents.
    public var pageStateChange: UInt64 = 60
    /// Encrypting or decrypting one 64 KiB page (AES-128-GCM).
    public var pageCrypt: UInt64 = 20_000
    /// One TPM command through `H_TPM_COMM` (an RSA-2048 decryption dominates).
    public var tpmCommand: UInt64 = 1_500_000
    /// One RTAS service in the hypervisor (QEMU).
    public var rtasService: UInt64 = 5_000

    /// The defaults.
    public init() {}
}
