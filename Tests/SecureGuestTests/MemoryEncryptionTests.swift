import PEFMachine
import PowerABI
import Testing

@testable import SecureGuest

/// `set_memory_decrypted()` / `set_memory_encrypted()` on a secure guest, failures
/// included.
@Suite("Memory encryption hooks")
struct MemoryEncryptionTests {
    static func secureKernel(cpus: Int = 1) throws -> (GuestTestMachine, GuestKernel) {
        let t = try GuestTestMachine(cpus: cpus, bootargs: "swiotlb=512")
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
        #expect(t.memory.states(of: (a >> 16)..<((a >> 16) + 3)) == [.shared, .shared, .shared])
        #expect(kernel.ledger.entries[GuestPhysicalAddress(a).frame]?.callSite == "test_share")
        #expect(kernel.audit().isClean)
        try kernel.setMemoryEncrypted(a, pageCount: 3)
        #expect(t.memory.states(of: (a >> 16)..<((a >> 16) + 3)) == [.secure, .secure, .secure])
        #expect(kernel.ledger.entries[GuestPhysicalAddress(a).frame] == nil)
        #expect(kernel.audit().isClean)
    }

    @Test("Unaligned addresses and ranges past memory are refused before any call")
    func refused() throws {
        let (t, kernel) = try Self.secureKernel()
        let calls = t.machine.trace.totalCalls
        #expect(throws: MemoryEncryptionError.unaligned(address: 0x20_1000)) {
            try kernel.setMemoryDecrypted(0x20_1000, pageCount: 1)
        }
        #expect(throws: MemoryEncryptionError.unaligned(address: 0x20_0001)) {
            try kernel.setMemoryEncrypted(0x20_0001, pageCount: 1)
        }
        #expect(throws: MemoryEncryptionError.outOfRange(address: 0x1FFF_0000, pageCount: 2)) {
            try kernel.setMemoryDecrypted(0x1FFF_0000, pageCount: 2)
        }
        #expect(throws: MemoryEncryptionError.invalidPageCount(-1)) {
            try kernel.setMemoryDecrypted(0x20_0000, pageCount: -1)
        }
        #expect(t.machine.trace.totalCalls == calls)
    }

    @Test("A share that fails part way is undone: the caller never sees shared memory, the audit stays clean")
    func failedShare() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.allocateMemory(bytes: 4 << 16, purpose: "test")
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(1),
                action: .partial(pages: 2, status: UltravisorStatus.p2.rawValue)))
        #expect {
            try kernel.setMemoryDecrypted(a, pageCount: 4, owner: .other, callSite: "test_share")
        } throws: { error in
            guard case .shareFailed(let address, 4, .p2, let rolledBack) = error as? MemoryEncryptionError else {
                return false
            }
            return address == a && rolledBack
        }
        #expect(t.memory.states(of: (a >> 16)..<((a >> 16) + 4)).allSatisfy { $0 == .secure })
        #expect(kernel.ledger.entries[GuestPhysicalAddress(a).frame] == nil)
        #expect(kernel.audit().isClean)
        #expect(kernel.faults.contains { $0.kind == .shareFailed && $0.address == a })
    }

    @Test("A failed unshare quarantines the pages and says so; they cannot be shared or freed again")
    func failedUnshare() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.allocateMemory(bytes: 2 << 16, purpose: "test")
        try kernel.setMemoryDecrypted(a, pageCount: 2, owner: .other, callSite: "test_share")
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.unsharePage), caller: .guest, trigger: .nth(1),
                action: .status(UltravisorStatus.p2.rawValue)))
        #expect {
            try kernel.setMemoryEncrypted(a, pageCount: 2)
        } throws: { error in
            guard case .unshareFailed(_, 2, .p2, 2) = error as? MemoryEncryptionError else { return false }
            return true
        }
        #expect(kernel.isQuarantined(GuestPhysicalAddress(a).frame))
        #expect(kernel.log.contains("quarantined"))
        #expect(throws: MemoryEncryptionError.quarantined(GuestPhysicalAddress(a).frame)) {
            try kernel.setMemoryDecrypted(a, pageCount: 1)
        }
        kernel.freeMemory(a, bytes: 2 << 16)
        #expect(kernel.memblock?.region(containing: a)?.purpose == "test", "not given back")
        let audit = kernel.audit()
        #expect(audit.quarantined == 2)
        #expect(audit.isClean, "quarantined pages are neither leaks nor losses: \(audit)")
        // Unsharing again (no fault now) settles them.
        try kernel.setMemoryEncrypted(a, pageCount: 2)
        #expect(!kernel.isQuarantined(GuestPhysicalAddress(a).frame))
    }

    @Test("dma-coherent memory is shared with owner dma-coherent and unshared when freed")
    func coherent() throws {
        let (t, kernel) = try Self.secureKernel()
        let a = try kernel.dmaAllocCoherent(size: 100_000)
        #expect(kernel.ledger.entries[GuestPhysicalAddress(a).frame]?.owner == .dmaCoherent)
        #expect(kernel.ledger.countsByOwner[.dmaCoherent] == 2)
        #expect(t.memory.state(of: GuestPhysicalAddress(a).frame) == .shared)
        try kernel.dmaFreeCoherent(a)
        #expect(kernel.ledger.countsByOwner[.dmaCoherent] == nil)
        #expect(t.memory.state(of: GuestPhysicalAddress(a).frame) == .secure)
        #expect(throws: DMAError.notCoherent(address: a)) { try kernel.dmaFreeCoherent(a) }
        #expect(kernel.audit().isClean)
    }
}
