@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// `set_memory_decrypted()` / `set_memory_encrypted()` on a secure guest, failures
/// included.
@Suite("Memory encryption hooks")
struct MemoryEncryptionTests {
    static func secureKernel(cpus: Int = 1) throws -> (GuestTestMachine, GuestKernel) {
        let t = try GuestTestMachine(cpus: cpus, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        return (t, kernel)
    }

    @Test("A page-aligned range is shared and unshared with one call each, and the ledger follows")
    func roundTrip() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.allocateMemory(bytes: 3 << 16, purpose: "test")
        let before = t.machine.trace.count(of: "UV_SHARE_PAGE")
        try kernel.setMemoryDecrypted(a, pageCount: 3, owner: .other, callSite: "test_share")
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == before + 1)
        #expect(t.memory.states(of: a.frame.rawValue..<(a.frame.rawValue + 3)) == [.shared, .shared, .shared])
        #expect(kernel.ledger.entries[a.frame]?.callSite == "test_share")
        #expect(kernel.audit().isClean)
        try kernel.setMemoryEncrypted(a, pageCount: 3)
        #expect(t.memory.states(of: a.frame.rawValue..<(a.frame.rawValue + 3)) == [.secure, .secure, .secure])
        #expect(kernel.ledger.entries[a.frame] == nil)
        #expect(kernel.audit().isClean)
    }

    /// `arch/powerpc/platforms/pseries/svm.c: set_memory_decrypted (6.12)`: the
    /// `cc_platform_has()` test comes first, then `!PAGE_ALIGNED → -EINVAL`; a range past
    /// memory or a negative count goes to the Ultravisor as the C call passes it
    /// (audit row 3.16). This test used to expect SVMKit's own range and count checks
    /// before any call; Linux has none.
    @Test("Only an unaligned address is refused; anything else becomes one UV_SHARE_PAGE, as in Linux")
    func refused() throws {
        let (t, kernel) = try Self.secureKernel()
        let calls = t.machine.trace.totalCalls
        #expect(throws: MemoryEncryptionError.unaligned(address: GuestPhysicalAddress(0x20_1000))) {
            try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x20_1000), pageCount: 1)
        }
        #expect(throws: MemoryEncryptionError.unaligned(address: GuestPhysicalAddress(0x20_0001))) {
            try kernel.setMemoryEncrypted(GuestPhysicalAddress(0x20_0001), pageCount: 1)
        }
        #expect(t.machine.trace.totalCalls == calls)
        let shares = t.machine.trace.count(of: "UV_SHARE_PAGE")
        try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x1FFF_0000), pageCount: 2)
        try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x20_0000), pageCount: 0)
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == shares + 2)
    }

    @Test("On a guest that is not secure nothing is checked or called (cc_platform_has first)")
    func notSecure() throws {
        let t = try GuestTestMachine(cpus: 1)
        let (kernel, _) = try t.boot()
        let calls = t.machine.trace.totalCalls
        try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x20_1000), pageCount: 1)
        try kernel.setMemoryEncrypted(GuestPhysicalAddress(0x20_0001), pageCount: -1)
        #expect(t.machine.trace.totalCalls == calls)
    }

    /// Linux ignores `uv_share_page()`'s status (`svm.c: set_memory_decrypted (6.12)`
    /// returns 0 after the call). This test used to expect SVMKit to undo the share
    /// and throw `shareFailed`; now the guest goes on, the ledger believes what Linux
    /// believes, and the mismatch is a finding about Linux, not a leak or loss.
    @Test("A share that fails part way is ignored as in Linux; the mismatch is reported as Linux's")
    func failedShare() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.allocateMemory(bytes: 4 << 16, purpose: "test")
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(1),
                action: .partial(pages: 2, status: UltravisorStatus.p2.rawValue)))
        let unshares = t.machine.trace.count(of: "UV_UNSHARE_PAGE")
        try kernel.setMemoryDecrypted(a, pageCount: 4, owner: .other, callSite: "test_share")
        #expect(t.machine.trace.count(of: "UV_UNSHARE_PAGE") == unshares, "no rollback call")
        #expect(t.memory.states(of: a.frame.rawValue..<(a.frame.rawValue + 4)) == [.shared, .shared, .secure, .secure])
        #expect(kernel.ledger.entries[a.frame]?.callSite == "test_share")
        let audit = kernel.audit()
        #expect(audit.isClean)
        let first: UInt64 = a.frame.rawValue
        let expected: [UInt64] = [first + 2, first + 3]
        let found: [UInt64] = audit.ledger.ignoredStatusMismatches.map(\.frame.rawValue)
        #expect(found == expected)
        #expect(audit.ledger.ignoredStatusMismatches.allSatisfy { $0.ledgerSaysShared && $0.ignored.status == .p2 })
        #expect(kernel.diagnose().contains { $0.kind == .ignoredStatus && $0.address == a.advanced(by: 2 << 16) && $0.owner == .other }, "the two pages left private")
        #expect(!kernel.faults.contains { $0.kind == .ignoredStatus }, "the guest itself noticed nothing")
    }

    /// `svm.c: set_memory_encrypted (6.12)` ignores `uv_unshare_page()`'s status too.
    /// This test used to expect a quarantine (pages kept out of use); Linux frees them.
    @Test("A failed unshare is ignored as in Linux: the pages are freed; the leak is a finding about Linux")
    func failedUnshare() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.allocateMemory(bytes: 2 << 16, purpose: "test")
        try kernel.setMemoryDecrypted(a, pageCount: 2, owner: .other, callSite: "test_share")
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.unsharePage), caller: .guest, trigger: .nth(1),
                action: .status(UltravisorStatus.p2.rawValue)))
        try kernel.setMemoryEncrypted(a, pageCount: 2, callSite: "test_unshare")
        #expect(kernel.ledger.entries[a.frame] == nil)
        kernel.freeMemory(a, bytes: 2 << 16)
        #expect(kernel.memblock?.region(containing: a) == nil, "given back, as __free_pages() does")
        let audit = kernel.audit()
        #expect(audit.isClean)
        #expect(audit.ignoredStatuses == 2)
        #expect(audit.ledger.ignoredStatusMismatches.count == 2)
        #expect(audit.ledger.ignoredStatusMismatches.allSatisfy { !$0.ledgerSaysShared && $0.ignored.call == .unsharePage })
        // Unsharing again (no fault now) settles them.
        try kernel.setMemoryEncrypted(a, pageCount: 2)
        #expect(kernel.audit().ledger.ignoredStatusMismatches.isEmpty)
        #expect(kernel.ledger.ignoredStatuses.isEmpty)
    }

    @Test("dma-coherent memory is shared with owner dma-coherent and unshared when freed")
    func coherent() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.dmaAllocCoherent(size: 100_000)
        #expect(kernel.ledger.entries[a.frame]?.owner == .dmaCoherent)
        #expect(kernel.ledger.countsByOwner[.dmaCoherent] == 2)
        #expect(t.memory.state(of: a.frame) == .shared)
        try kernel.dmaFreeCoherent(a)
        #expect(kernel.ledger.countsByOwner[.dmaCoherent] == nil)
        #expect(t.memory.state(of: a.frame) == .secure)
        #expect(throws: DMAError.notCoherent(address: a)) { try kernel.dmaFreeCoherent(a) }
        #expect(kernel.audit().isClean)
    }

    /// `kernel/dma/direct.c: dma_direct_alloc (6.12)` zeroes the buffer after
    /// `dma_set_decrypted()`. SVMKit relied on the Ultravisor zeroing pages at share
    /// time, so a page freed after an unshare failure Linux ignored (still shared,
    /// holding what the hypervisor wrote) came back to the next allocation dirty; the
    /// soak found it with `--faults`.
    @Test("dma_alloc_coherent zeroes its buffer, even over a page an ignored unshare left shared")
    func coherentIsZeroed() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.dmaAllocCoherent(size: 1 << 16)
        try t.memory.write(.hypervisor, at: a, bytes: [UInt8](repeating: 0xAB, count: 64))
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.unsharePage), caller: .guest, trigger: .nth(1),
                action: .status(UltravisorStatus.p2.rawValue)))
        try kernel.dmaFreeCoherent(a)
        #expect(t.memory.state(of: a.frame) == .shared, "the unshare failed and Linux freed it")
        let b = try kernel.dmaAllocCoherent(size: 1 << 16)
        #expect(b == a, "the allocator hands the same page out again")
        #expect(try t.boot.read(at: b, count: 64) == [UInt8](repeating: 0, count: 64))
    }
}
