import PEFMachine
import PowerABI

/// Pages a previous kernel left shared.
extension GuestKernel {
    /// The allocator's name for pages a previous kernel left shared.
    public static let inheritedSharePurpose = "inherited-shared"

    /// Keeps the pages a previous kernel left shared out of this kernel's allocator.
    ///
    /// A crash or preserve-context kexec skips `UV_UNSHARE_ALL_PAGES`
    /// (reference/linux-guest-facts.md §1.7), so the next kernel finds explicit shares it
    /// did not make. Linux's next kernel "starts with every page assumed private"; a real
    /// kdump kernel runs in its own `crashkernel=` region, which the crashed kernel never
    /// shared, so it never hands such a page out. SVMKit's next kernel boots over the same
    /// memory, so it must reserve them instead: otherwise `alloc_pages()` could return a
    /// page the hypervisor can still read, and the kernel would put private data in it.
    /// Called at the end of boot, after the kernel's own shares (its LPPACAs, pool and
    /// DTLs re-share the same pages idempotently and are in its ledger): every other
    /// explicitly shared page is reserved as ``inheritedSharePurpose``.
    /// - Returns: the pages reserved.
    @discardableResult
    func reserveInheritedShares() -> Int {
        let shared = machine.memory.frames(where: \.isExplicitShare)
        guard !shared.isEmpty else { return 0 }
        let reserved = state.withLock { s -> Int in
            guard var memblock = s.memblock else { return 0 }
            let foreign = shared.filter { s.ledger.entries[$0] == nil }
            var i = 0
            while i < foreign.count {
                var j = i + 1
                while j < foreign.count, foreign[j].rawValue == foreign[j - 1].rawValue + 1 { j += 1 }
                memblock.reserve(
                    start: foreign[i].rawValue << PageSize.shift, size: UInt64(j - i) << PageSize.shift,
                    purpose: Self.inheritedSharePurpose)
                i = j
            }
            s.memblock = memblock
            return foreign.count
        }
        if reserved > 0 {
            printk("SVMKit: \(reserved) page(s) left shared by the previous kernel reserved: never handed out as private memory")
        }
        return reserved
    }
}
