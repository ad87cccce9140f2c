import PEFMachine
public import PowerABI

/// Sharing memory with the hypervisor (reference/linux-guest-facts.md §1.2).
///
/// Every share the kernel makes goes through ``uvSharePage(first:count:owner:callSite:cpu:)``
/// and is recorded in the ``SharedPageLedger`` with its owner and call site; every
/// unshare through ``uvUnsharePage(first:count:callSite:cpu:)``.
///
/// SVMKit's Ultravisor leaves the status of `UV_SHARE_PAGE` / `UV_UNSHARE_PAGE` in r3
/// (real firmware restores the caller's r3; see the Ultravisor's sharing notes), and
/// this kernel acts on it: a failed share is undone and reported, a failed unshare
/// quarantines the pages.
extension GuestKernel {
    /// Models `set_memory_decrypted()` in `arch/powerpc/platforms/pseries/svm.c`:
    /// shares `pageCount` pages from the page-aligned `address` with one
    /// `UV_SHARE_PAGE`. Does nothing (and succeeds) on a non-secure guest.
    ///
    /// - Parameters:
    ///   - owner: who the pages belong to, for the ledger.
    ///   - callSite: the kernel function that asked, for the ledger.
    ///   - cpu: the Linux CPU making the call.
    /// - Throws: ``MemoryEncryptionError/unaligned(address:)`` (Linux's `-EINVAL`),
    ///   a bad count or range, a quarantined page, or
    ///   ``MemoryEncryptionError/shareFailed(address:pageCount:status:rolledBack:)``:
    ///   after a failure the memory is never to be treated as shared.
    public func setMemoryDecrypted(
        _ address: UInt64, pageCount: Int, owner: SharedPageOwner = .other,
        callSite: String = "set_memory_decrypted", cpu: Int = 0
    ) throws(MemoryEncryptionError) {
        let first = try checkRange(address, pageCount: pageCount)
        guard isSecureGuest, pageCount > 0 else { return }
        try uvSharePage(first: first, count: UInt64(pageCount), owner: owner, callSite: callSite, cpu: cpu).get()
    }

    /// Models `set_memory_encrypted()`: unshares `pageCount` pages from the
    /// page-aligned `address` with one `UV_UNSHARE_PAGE`. Does nothing on a
    /// non-secure guest.
    ///
    /// - Throws: as ``setMemoryDecrypted(_:pageCount:owner:callSite:cpu:)``, and
    ///   ``MemoryEncryptionError/unshareFailed(address:pageCount:status:quarantinedPages:)``
    ///   when the Ultravisor refused: the pages are then quarantined, the kernel log says
    ///   so, and the caller must not free or reuse them.
    public func setMemoryEncrypted(
        _ address: UInt64, pageCount: Int, callSite: String = "set_memory_encrypted", cpu: Int = 0
    ) throws(MemoryEncryptionError) {
        let first = try checkRange(address, pageCount: pageCount, allowQuarantined: true)
        guard isSecureGuest, pageCount > 0 else { return }
        try uvUnsharePage(first: first, count: UInt64(pageCount), callSite: callSite, cpu: cpu).get()
    }

    /// Whether a page is quarantined.
    public func isQuarantined(_ frame: GuestFrameNumber) -> Bool { state.withLock { $0.ledger.isQuarantined(frame) } }

    private func checkRange(_ address: UInt64, pageCount: Int, allowQuarantined: Bool = false)
        throws(MemoryEncryptionError) -> GuestFrameNumber
    {
        guard address & PageSize.offsetMask == 0 else { throw .unaligned(address: address) }
        guard pageCount >= 0 else { throw .invalidPageCount(pageCount) }
        let first = GuestPhysicalAddress(address).frame
        let (end, overflow) = first.rawValue.addingReportingOverflow(UInt64(pageCount))
        guard !overflow, end <= UInt64(machine.memory.pageCount) else {
            throw .outOfRange(address: address, pageCount: pageCount)
        }
        if !allowQuarantined {
            let hit: GuestFrameNumber? = state.withLock { s in
                guard !s.ledger.quarantined.isEmpty else { return nil }
                return (first.rawValue..<end).lazy.map { GuestFrameNumber($0) }.first { s.ledger.isQuarantined($0) }
            }
            if let hit { throw .quarantined(hit) }
        }
        return first
    }

    /// Models `uv_share_page(pfn, npages)` plus SVMKit's bookkeeping: one
    /// `UV_SHARE_PAGE` on `cpu`'s vCPU; on success the ledger records the pages. On
    /// failure the range is unshared again (the Ultravisor skips pages that are still
    /// secure, so this undoes exactly any part-way progress), leaving pages the ledger
    /// already knew alone; if that fails too, the range is quarantined.
    func uvSharePage(
        first: GuestFrameNumber, count: UInt64, owner: SharedPageOwner, callSite: String, cpu: Int = 0
    ) -> Result<Void, MemoryEncryptionError> {
        let vcpu = processor(cpu)
        let address = first.rawValue << PageSize.shift
        let status = UltravisorStatus(register: vcpu.ultracall(.sharePage, [first.rawValue, count]).r3)
        state.withLock { $0.shareCalls[owner, default: 0] += 1 }
        if status == .success {
            state.withLock { $0.ledger.recordShare(first: first, count: count, owner: owner, callSite: callSite) }
            return .success(())
        }
        // Undo any part-way progress, run by run, skipping pages the ledger already knew.
        let known: [Bool] = state.withLock { s in (0..<count).map { s.ledger.entries[GuestFrameNumber(first.rawValue + $0)] != nil } }
        var rolledBack = true
        var i: UInt64 = 0
        while i < count {
            guard !known[Int(i)] else {
                i += 1
                continue
            }
            var j = i
            while j < count, !known[Int(j)] { j += 1 }
            let undo = UltravisorStatus(register: vcpu.ultracall(.unsharePage, [first.rawValue + i, j - i]).r3)
            if undo != .success {
                rolledBack = false
                state.withLock {
                    $0.ledger.quarantine(first: GuestFrameNumber(first.rawValue + i), count: j - i, owner: owner, callSite: callSite)
                }
            }
            i = j
        }
        let error = MemoryEncryptionError.shareFailed(
            address: address, pageCount: Int(count), status: status, rolledBack: rolledBack)
        record(
            GuestFault(
                kind: rolledBack ? .shareFailed : .quarantine, address: address, owner: owner,
                region: owner.rawValue, culprit: "\(callSite) could not share \(count) page(s)",
                detail: error.description))
        return .failure(error)
    }

    /// Models `uv_unshare_page(pfn, npages)` plus bookkeeping: on success the ledger
    /// forgets the pages; on failure they are quarantined and the log says so.
    func uvUnsharePage(first: GuestFrameNumber, count: UInt64, callSite: String, cpu: Int = 0)
        -> Result<Void, MemoryEncryptionError>
    {
        let vcpu = processor(cpu)
        let address = first.rawValue << PageSize.shift
        let status = UltravisorStatus(register: vcpu.ultracall(.unsharePage, [first.rawValue, count]).r3)
        state.withLock { $0.unshareCalls += 1 }
        if status == .success {
            state.withLock { s in
                s.ledger.recordUnshare(first: first, count: count)
                for i in 0..<count { s.unsharedBy[GuestFrameNumber(first.rawValue + i)] = callSite }
            }
            return .success(())
        }
        let owner = state.withLock { s in
            let o = s.ledger.entry(for: first)?.owner ?? .other
            s.ledger.quarantine(first: first, count: count, owner: o, callSite: callSite)
            return o
        }
        let error = MemoryEncryptionError.unshareFailed(
            address: address, pageCount: Int(count), status: status, quarantinedPages: Int(count))
        record(
            GuestFault(
                kind: .quarantine, address: address, owner: owner, region: owner.rawValue,
                culprit: "\(callSite) could not unshare \(count) page(s); they are quarantined, not returned to use",
                detail: error.description))
        return .failure(error)
    }
}
