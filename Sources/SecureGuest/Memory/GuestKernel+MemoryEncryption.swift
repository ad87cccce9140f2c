import PEFMachine
import PowerABI

/// Sharing memory with the hypervisor (reference/linux-guest-facts.md §1.2).
///
/// Every share the kernel makes goes through ``uvSharePage(first:count:owner:callSite:cpu:)``
/// and every unshare through ``uvUnsharePage(first:count:callSite:cpu:)``. As in Linux,
/// the kernel does not act on the status the Ultravisor leaves in r3 (on the public
/// firmware r3 even keeps the ultracall number, reference/ultravisor-facts.md): it
/// believes the pages shared or private once the call is made. The
/// ``SharedPageLedger`` records that belief and writes the status down, so that
/// observers outside the guest can report what the ignored status did.
extension GuestKernel {
    /// Models `set_memory_decrypted()` (`arch/powerpc/platforms/pseries/svm.c:
    /// set_memory_decrypted (6.12)`): on a guest that is not secure
    /// (`cc_platform_has(CC_ATTR_MEM_ENCRYPT)` false) it does nothing; an address that
    /// is not page-aligned is `-EINVAL`; otherwise ONE `UV_SHARE_PAGE` for
    /// `pageCount` pages (an `int`, sign-extended into r4 as the C call does), whose
    /// status is ignored. It always returns 0 after the call.
    ///
    /// - Parameters:
    ///   - owner: who the pages belong to, for the ledger.
    ///   - callSite: the kernel function that asked, for the ledger.
    ///   - cpu: the Linux CPU making the call.
    /// - Throws: ``MemoryEncryptionError/unaligned(address:)`` (Linux's `-EINVAL`), only.
    public func setMemoryDecrypted(
        _ address: GuestPhysicalAddress, pageCount: Int, owner: SharedPageOwner = .other,
        callSite: String = "set_memory_decrypted", cpu: Int = 0
    ) throws(MemoryEncryptionError) {
        guard isSecureGuest else { return }
        guard address.isPageAligned else { throw .unaligned(address: address) }
        uvSharePage(
            first: address.frame, count: Self.ultracallPageCount(pageCount), owner: owner,
            callSite: callSite, cpu: cpu)
    }

    /// Models `set_memory_encrypted()` (`svm.c: set_memory_encrypted (6.12)`): the
    /// same checks in the same order, then ONE `UV_UNSHARE_PAGE` whose status is
    /// ignored.
    ///
    /// - Throws: ``MemoryEncryptionError/unaligned(address:)`` only.
    public func setMemoryEncrypted(
        _ address: GuestPhysicalAddress, pageCount: Int, callSite: String = "set_memory_encrypted", cpu: Int = 0
    ) throws(MemoryEncryptionError) {
        guard isSecureGuest else { return }
        guard address.isPageAligned else { throw .unaligned(address: address) }
        uvUnsharePage(
            first: address.frame, count: Self.ultracallPageCount(pageCount), callSite: callSite,
            cpu: cpu)
    }

    /// `int numpages` passed as the `u64 npages` of `uv_share_page()`: sign-extended.
    static func ultracallPageCount(_ pageCount: Int) -> UInt64 { UInt64(bitPattern: Int64(pageCount)) }

    /// The frames of `count` pages from `first` that exist in guest memory (the ledger
    /// records no frame past the end; the Ultravisor judges the call as made).
    private func framesInMemory(first: GuestFrameNumber, count: UInt64) -> UInt64 {
        let total = state.withLock { $0.memoryBytes } >> PageSize.shift
        guard first.rawValue < total else { return 0 }
        return min(count, total - first.rawValue)
    }

    /// Models `uv_share_page(pfn, npages)` (`arch/powerpc/include/asm/ultravisor.h`):
    /// one `UV_SHARE_PAGE` on `cpu`'s vCPU. The ledger records the pages as shared (what
    /// Linux believes) and the status, which nothing in the guest acts on.
    /// - Returns: the status in r3, for observers and tests.
    @discardableResult
    func uvSharePage(
        first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner, callSite: String, cpu: Int = 0
    ) -> UltravisorStatus {
        let status = UltravisorStatus(register: processor(cpu).ultracall(.sharePage, [first.rawValue, count]).r3)
        let n = framesInMemory(first: first, count: count)
        // Bookkeeping only (the guest does not act on it): which frames the failed call
        // left private, as an observer outside the guest sees them.
        let leftPrivate: [GuestFrameNumber] = status == .success ? [] : pagesLeftPrivate?(first, n) ?? []
        state.withLock { s in
            s.ledger.noteFailedShare(leftPrivate)
            s.shareCalls[owner, default: 0] += 1
            s.ledger.recordShare(first: first, count: n, owner: owner, callSite: callSite)
            s.ledger.noteStatus(status, of: .sharePage, first: first, count: n, owner: owner, callSite: callSite)
        }
        return status
    }

    /// Models `uv_unshare_page(pfn, npages)`: one `UV_UNSHARE_PAGE`; the ledger forgets
    /// the pages whatever the status, and writes the status down.
    /// - Returns: the status in r3, for observers and tests.
    @discardableResult
    func uvUnsharePage(first: GuestFrameNumber, count: UInt64, callSite: String, cpu: Int = 0) -> UltravisorStatus {
        let status = UltravisorStatus(register: processor(cpu).ultracall(.unsharePage, [first.rawValue, count]).r3)
        let n = framesInMemory(first: first, count: count)
        state.withLock { s in
            s.unshareCalls += 1
            let owner = s.ledger.entry(for: first)?.owner ?? .other
            s.ledger.recordUnshare(first: first, count: n)
            s.ledger.noteStatus(status, of: .unsharePage, first: first, count: n, owner: owner, callSite: callSite)
            for i in 0..<n { s.unsharedBy[GuestFrameNumber(first.rawValue + i)] = callSite }
        }
        return status
    }
}
