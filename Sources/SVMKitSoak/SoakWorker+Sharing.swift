import SVMKit
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest

/// Share/unshare churn, hypervisor page-outs and dma-coherent allocations, each
/// checked from both sides: what the guest sees and what the hypervisor sees.
extension SoakWorker {
    private static let page = Int(PageSize.bytes)
    /// The call site churn shares and unshares are recorded with.
    static let callSite = "soak churn"

    /// Picks pages for a share (private pages), an unshare (shared ones) or a page-out
    /// (one private page) and does it; with no page in the needed state, does the
    /// opposite operation instead. `did` is set to what is done.
    func churn(
        _ kind: SoakOperationKind, _ cycle: SoakCycle, _ s: inout State, _ g: inout Xoshiro256StarStar,
        did: inout SoakOperationKind
    ) throws(SoakCheckFailure) {
        let count = s.churnShared.count
        let start = Int.random(in: 0..<count, using: &g)
        let run = kind == .pageOut ? 1 : Int.random(in: 1...3, using: &g)
        let wantShared = kind == .unshare
        guard let first = (0..<count).lazy.map({ (start + $0) % count }).first(where: { s.churnShared[$0] == wantShared })
        else {
            // Nothing in the state this kind needs: every page is the other way.
            return try churn(wantShared ? .share : .unshare, cycle, &s, &g, did: &did)
        }
        did = kind
        var n = 1
        while n < run, first + n < count, s.churnShared[first + n] == wantShared { n += 1 }
        let address = cycle.churnBase + UInt64(first * Self.page)
        // Pages an earlier call left other than Linux believes (it ignored the status):
        // the call is made as Linux would make it, and what follows is a finding about
        // Linux, not something to check against the Ultravisor's zeroing rules.
        let firstFrame = address >> PageSize.shift
        let ignored = cycle.kernel.ledger.ignoredStatuses
        let tainted = (0..<UInt64(n)).map { GuestFrameNumber(rawValue: firstFrame + $0) }.filter { ignored[$0] != nil }
        if !tainted.isEmpty {
            tally.noteFindings(tainted)
            switch kind {
            case .unshare: try callOnly { () throws(MemoryEncryptionError) in
                try cycle.kernel.setMemoryEncrypted(GuestPhysicalAddress(address), pageCount: n, callSite: Self.callSite, cpu: cpu)
            }
            case .pageOut: break
            default: try callOnly { () throws(MemoryEncryptionError) in
                try cycle.kernel.setMemoryDecrypted(GuestPhysicalAddress(address), pageCount: n, owner: .other, callSite: Self.callSite, cpu: cpu)
            }
            }
            if kind != .pageOut { for i in first..<(first + n) { s.churnShared[i] = !wantShared } }
            return
        }
        switch kind {
        case .unshare: try unshare(address, pages: n, cycle)
        case .pageOut: try pageOut(address, cycle, &g)
        default: try share(address, pages: n, cycle, &g)
        }
        if kind != .pageOut { for i in first..<(first + n) { s.churnShared[i] = !wantShared } }
    }

    /// Runs a share or unshare whose result is a finding, not a check.
    private func callOnly(_ body: () throws(MemoryEncryptionError) -> Void) throws(SoakCheckFailure) {
        do {
            try body()
        } catch {
            throw SoakCheckFailure(.operation, "set_memory_{de,en}crypted failed: \(error)")
        }
    }

    /// `set_memory_decrypted()` of private pages that hold a secret, then both sides' views.
    private func share(_ address: UInt64, pages: Int, _ cycle: SoakCycle, _ g: inout Xoshiro256StarStar)
        throws(SoakCheckFailure)
    {
        let bytes = pages * Self.page
        let vcpu = vcpu(cycle)
        let secret = Self.randomBytes(bytes, &g)
        try guestWrite(vcpu, address, secret, "soak: secret before share")
        do {
            try cycle.kernel.setMemoryDecrypted(GuestPhysicalAddress(address), pageCount: pages, owner: .other, callSite: Self.callSite, cpu: cpu)
        } catch {
            throw SoakCheckFailure(.operation, "set_memory_decrypted(\(hex(address)), \(pages)) failed: \(error)")
        }
        guard try expectStates(address, pages: pages, .shared, in: cycle, ledger: .other, after: "set_memory_decrypted")
        else { return }
        let seen = try hypervisorRead(address, bytes, "soak: hypervisor view after share")
        if seen == secret {
            throw SoakCheckFailure(.invariant, "the hypervisor reads the guest's secret at \(hex(address)) after a share")
        }
        if let i = seen.firstIndex(where: { $0 != 0 }) {
            throw SoakCheckFailure(
                .invariant,
                "the hypervisor's page at \(hex(address)) is not zeroed after UV_SHARE_PAGE "
                    + "(byte \(i) is \(seen[i]); ultravisor-facts.md §5.2)")
        }
        try hypervisorWritesGuestReads(vcpu, address, Self.randomBytes(bytes, &g), "the shared page")
    }

    /// `set_memory_encrypted()` of shared pages: secure, out of the ledger, zeroed.
    private func unshare(_ address: UInt64, pages: Int, _ cycle: SoakCycle) throws(SoakCheckFailure) {
        do {
            try cycle.kernel.setMemoryEncrypted(GuestPhysicalAddress(address), pageCount: pages, callSite: Self.callSite, cpu: cpu)
        } catch {
            throw SoakCheckFailure(.operation, "set_memory_encrypted(\(hex(address)), \(pages)) failed: \(error)")
        }
        guard try expectStates(address, pages: pages, .secure, in: cycle, ledger: nil, after: "set_memory_encrypted")
        else { return }
        let back = try guestRead(vcpu(cycle), address, pages * Self.page, "soak: guest reads unshared page")
        if let i = back.firstIndex(where: { $0 != 0 }) {
            throw SoakCheckFailure(
                .invariant,
                "the secure page at \(hex(address)) is not zeroed after UV_UNSHARE_PAGE (byte \(i) is \(back[i]); "
                    + "what the hypervisor wrote must not reach secure memory; ultravisor-facts.md §5.3)")
        }
    }

    /// The hypervisor pages a private page out: it must hold ciphertext, and the guest's
    /// next touch must bring the plaintext back.
    private func pageOut(_ address: UInt64, _ cycle: SoakCycle, _ g: inout Xoshiro256StarStar) throws(SoakCheckFailure) {
        let vcpu = vcpu(cycle)
        let frame = address >> PageSize.shift
        let secret = Self.randomBytes(Self.page, &g)
        try guestWrite(vcpu, address, secret, "soak: secret before page-out")
        let status = hypervisor.pageOut(frame: frame, on: machine)
        guard status == .success else {
            throw SoakCheckFailure(.operation, "UV_PAGE_OUT of the private page at \(hex(address)) answered \(status.name)")
        }
        guard let held = hypervisor.pagedOutPage(frame: frame, on: machine) else {
            throw SoakCheckFailure(.invariant, "the hypervisor holds nothing for the paged-out frame \(hex(frame))")
        }
        if held.bytes == secret || held.bytes.prefix(64) == secret.prefix(64) {
            throw SoakCheckFailure(.invariant, "UV_PAGE_OUT gave the hypervisor the plaintext of \(hex(address))")
        }
        if try guestRead(vcpu, address, Self.page, "soak: guest touches paged-out page") != secret {
            throw SoakCheckFailure(.invariant, "the page at \(hex(address)) did not come back intact after page-out and page-in")
        }
        try expectStates(address, pages: 1, .secure, in: cycle, ledger: nil, after: "page-out and page-in")
    }

    /// `dma_alloc_coherent()`, both sides write and read, `dma_free_coherent()`.
    func coherent(_ cycle: SoakCycle, _ g: inout Xoshiro256StarStar) throws(SoakCheckFailure) {
        let size = Int.random(in: 1...(2 * Self.page), using: &g)
        let pages = (size + Self.page - 1) / Self.page
        let address: UInt64
        do {
            address = try cycle.kernel.dmaAllocCoherent(size: size, cpu: cpu).rawValue
        } catch {
            throw SoakCheckFailure(.operation, "dma_alloc_coherent(\(size)) failed: \(error)")
        }
        guard try expectStates(address, pages: pages, .shared, in: cycle, ledger: .dmaCoherent, after: "dma_alloc_coherent")
        else {
            // Linux uses the buffer anyway; the device's accesses are the finding's.
            do {
                try cycle.kernel.dmaFreeCoherent(GuestPhysicalAddress(address), cpu: cpu)
            } catch {
                throw SoakCheckFailure(.operation, "dma_free_coherent(\(hex(address))) failed: \(error)")
            }
            return
        }
        let vcpu = vcpu(cycle)
        if let i = try guestRead(vcpu, address, size, "soak: fresh coherent buffer").firstIndex(where: { $0 != 0 }) {
            throw SoakCheckFailure(.invariant, "dma_alloc_coherent(\(size)) at \(hex(address)) is not zeroed (byte \(i))")
        }
        try hypervisorWritesGuestReads(vcpu, address, Self.randomBytes(size, &g), "the coherent buffer")
        let fromGuest = Self.randomBytes(size, &g)
        try guestWrite(vcpu, address, fromGuest, "soak: guest writes coherent buffer")
        if try hypervisorRead(address, size, "soak: device reads coherent buffer") != fromGuest {
            throw SoakCheckFailure(.invariant, "the device does not see the guest's write to the coherent buffer at \(hex(address))")
        }
        do {
            try cycle.kernel.dmaFreeCoherent(GuestPhysicalAddress(address), cpu: cpu)
        } catch {
            throw SoakCheckFailure(.operation, "dma_free_coherent(\(hex(address))) failed: \(error)")
        }
        try expectStates(address, pages: pages, .secure, in: cycle, ledger: nil, after: "dma_free_coherent")
    }

    /// Injection: share a private churn page behind the ledger's back.
    func injectUnrecordedShare(_ cycle: SoakCycle, _ s: inout State) throws(SoakCheckFailure) {
        for case .unrecordedShare(let v, let n) in configuration.injections where v == cpu && n == s.operationNumber {
            guard let i = s.churnShared.firstIndex(of: false) else { return }
            let frame = (cycle.churnBase >> PageSize.shift) + UInt64(i)
            _ = vcpu(cycle).ultracall(.sharePage, [frame, 1])
        }
    }

    // MARK: Checks

    /// Every page of the range is in `state`, and in the ledger with `ledger` as owner
    /// (or not in it, for `nil`). Returns `false`, and records a finding about Linux
    /// instead of failing, when a page is not in `state` because the guest ignored the
    /// call's status as Linux does (the ledger wrote the status down).
    @discardableResult
    func expectStates(
        _ address: UInt64, pages: Int, _ state: PageState, in cycle: SoakCycle, ledger owner: SharedPageOwner?,
        after what: String
    ) throws(SoakCheckFailure) -> Bool {
        let first = address >> PageSize.shift
        let states = machine.memory.states(of: first..<(first + UInt64(pages)))
        let ignored = cycle.kernel.ledger.ignoredStatuses
        let explained = states.indices.filter { states[$0] != state && ignored[GuestFrameNumber(rawValue: first + UInt64($0))] != nil }
        if !explained.isEmpty {
            tally.noteFindings(explained.map { GuestFrameNumber(rawValue: first + UInt64($0)) })
            return false
        }
        if let i = states.firstIndex(where: { $0 != state }) {
            throw SoakCheckFailure(
                .invariant,
                "after \(what) the page at \(hex((first + UInt64(i)) << PageSize.shift)) is \(states[i]), expected \(state)")
        }
        let ledger = cycle.kernel.ledger
        for f in first..<(first + UInt64(pages)) {
            let entry = ledger.entries[GuestFrameNumber(rawValue: f)]
            if entry?.owner != owner {
                throw SoakCheckFailure(
                    .invariant,
                    "after \(what) the ledger has "
                        + (entry.map { "owner \($0.owner.rawValue) (\($0.callSite))" } ?? "no entry")
                        + " for \(hex(f << PageSize.shift)), expected " + (owner.map { "owner \($0.rawValue)" } ?? "none"))
            }
        }
        return true
    }

    /// The hypervisor writes `bytes` at `address`; the guest must read them back.
    private func hypervisorWritesGuestReads(_ vcpu: VirtualProcessor, _ address: UInt64, _ bytes: [UInt8], _ what: String)
        throws(SoakCheckFailure)
    {
        try hypervisorWrite(address, bytes, "soak: hypervisor writes \(what)")
        if try guestRead(vcpu, address, bytes.count, "soak: guest reads \(what)") != bytes {
            throw SoakCheckFailure(.invariant, "the guest does not see what the hypervisor wrote to \(what) at \(hex(address))")
        }
    }

    func hypervisorWrite(_ address: UInt64, _ bytes: [UInt8], _ purpose: String) throws(SoakCheckFailure) {
        do {
            try machine.memory.write(.hypervisor, at: GuestPhysicalAddress(address), bytes: bytes, purpose: purpose)
        } catch {
            throw SoakCheckFailure(.invariant, "the hypervisor cannot write \(bytes.count) bytes at \(hex(address)): \(error)")
        }
    }

    func guestWrite(_ vcpu: VirtualProcessor, _ address: UInt64, _ bytes: [UInt8], _ purpose: String) throws(SoakCheckFailure) {
        do {
            try vcpu.write(at: GuestPhysicalAddress(address), bytes: bytes, purpose: purpose)
        } catch {
            throw SoakCheckFailure(.operation, "the guest cannot write \(bytes.count) bytes at \(hex(address)): \(error)")
        }
    }

    func guestRead(_ vcpu: VirtualProcessor, _ address: UInt64, _ count: Int, _ purpose: String) throws(SoakCheckFailure)
        -> [UInt8]
    {
        do {
            return try vcpu.read(at: GuestPhysicalAddress(address), count: count, purpose: purpose)
        } catch {
            throw SoakCheckFailure(.operation, "the guest cannot read \(count) bytes at \(hex(address)): \(error)")
        }
    }

    func hypervisorRead(_ address: UInt64, _ count: Int, _ purpose: String) throws(SoakCheckFailure) -> [UInt8] {
        do {
            return try machine.memory.read(.hypervisor, at: GuestPhysicalAddress(address), count: count, purpose: purpose)
        } catch {
            throw SoakCheckFailure(.invariant, "the hypervisor cannot read \(count) bytes at \(hex(address)): \(error)")
        }
    }
}
