import SVMKit
public import SecureGuest

/// Deliberate breakage a soak can inject, to show that its checks catch each kind of
/// mistake and name it (issue 8: "each test must be able to fail").
public enum SoakInjection: Hashable, Sendable {
    /// Right after a vCPU's `write`-th block write of the run (counting from 1), the
    /// hypervisor's disk flips one bit of the first sector it stored: a device that
    /// damages data. The soak must report a checksum mismatch naming the sector.
    case corruptDiskAfterWrite(vcpu: Int, write: Int)
    /// At a vCPU's `operation`-th operation of the run (counting from 1), the guest
    /// shares one of its churn pages with a raw `UV_SHARE_PAGE`, bypassing
    /// `set_memory_decrypted()` and so the ledger: the audit must report a leak.
    case unrecordedShare(vcpu: Int, operation: Int)
    /// Every kernel of the soak is built with these deliberate bugs
    /// (``GuestBug``); the soak must report what they break.
    case guestBugs(Set<GuestBug>)
}
