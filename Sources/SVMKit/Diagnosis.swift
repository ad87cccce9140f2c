/// One finding of the boot report's `diagnoses`: a secure page the hypervisor
/// touched (or another fault of the guest: an SVM kill, SWIOTLB misuse), who owns
/// the memory in the guest, what that did, and the likely cause.
///
/// On hardware the hypervisor's access to a secure page is not refused: KVM pages it
/// out (`book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram`, 6.12) and gets ciphertext;
/// the guest sees the damage later and elsewhere. SVMKit knows more than the hardware
/// can say, so it names the page, its owner and the first consequence here, without
/// changing what the guest does. Built by ``SecureVirtualMachine/diagnoses()``, an
/// observer outside the guest that reads the guest's exported allocator records
/// (`Memblock`) and shared-page ledger.
public struct Diagnosis: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The guest owner of the page: the allocator's purpose (`swiotlb`, `lppaca`, `dtl`,
    /// `kernel`, …), a boot-image segment (`fdt`, `initrd`, …), or `unknown`.
    public var owner: String
    /// The first consequence SVMKit observed, e.g. "the block write to the disk carried
    /// ciphertext".
    public var consequence: String
    /// The likely cause, e.g. "the SWIOTLB pool was never shared".
    public var cause: String
    /// The guest physical address the hypervisor touched first, as `0x…`.
    public var address: String
    /// Its guest frame number (64 KiB pages).
    public var gfn: UInt64
    /// What the hypervisor was doing (the access's purpose).
    public var access: String
    /// For a hypervisor access: `page-out` (as on hardware) or `stop` (`--hv-touch
    /// stop`); `nil` for other findings.
    public var handling: String?
    /// What happened when the guest touched the page again, if it did: `UV_PAGE_IN`
    /// answering `U_P3` ("Hypervisor tampering detected") after the hypervisor wrote
    /// into the ciphertext, or the page coming back intact.
    public var pagedBackIn: String?

    /// Makes a finding.
    public init(
        owner: String, consequence: String, cause: String, address: UInt64, access: String, handling: String? = nil,
        pagedBackIn: String? = nil
    ) {
        self.owner = owner
        self.consequence = consequence
        self.cause = cause
        self.address = "0x" + String(address, radix: 16)
        self.gfn = address >> 16
        self.access = access
        self.handling = handling
        self.pagedBackIn = pagedBackIn
    }

    /// e.g. `0x3c000000 (owner swiotlb): the block write to the disk carried ciphertext; cause: the SWIOTLB pool was never shared`.
    public var description: String {
        "\(address) (owner \(owner)): \(consequence)" + (pagedBackIn.map { "; then \($0)" } ?? "") + "; cause: \(cause)"
    }
}
