import Hypervisor
import PEFMachine
import PowerABI
import Testing

@testable import SecureGuest

/// After a crash kexec the next kernel finds the crashed kernel's shares in place
/// (reference/linux-guest-facts.md §1.7: `UV_UNSHARE_ALL_PAGES` is skipped). It must
/// never hand such a page out as private memory: the hypervisor can still read it.
/// (Regression: found by `svmkit soak --crash-fraction 0.5`, where the next kernel's
/// `alloc_pages()` returned a page the crashed kernel had shared.)
@Suite("Pages a crashed kernel left shared")
struct InheritedSharesTests {
    @Test("The next kernel reserves them; its allocations are private")
    func reservedAfterCrash() throws {
        let t = try GuestTestMachine(cpus: 2, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        let buffer = try kernel.allocateMemory(bytes: 4 * PageSize.bytes, purpose: "test")
        try kernel.setMemoryDecrypted(buffer + PageSize.bytes, pageCount: 2, owner: .other, callSite: "test")
        _ = try kernel.kexec(.crash)

        let (next, report) = try t.boot()
        #expect(report.inheritedShares > 0)
        let first = GuestPhysicalAddress(buffer + PageSize.bytes).frame
        #expect(t.memory.state(of: first) == .shared, "a crash kexec leaves the share")
        #expect(next.memblock?.region(containing: buffer + PageSize.bytes)?.purpose == GuestKernel.inheritedSharePurpose)
        #expect(next.log.contains("left shared by the previous kernel reserved"))
        // The same allocation again (the allocator is top-down, so without the
        // reservation it would land on the same, still shared, pages).
        let again = try next.allocateMemory(bytes: 4 * PageSize.bytes, purpose: "test")
        let frames = (again >> PageSize.shift)..<((again >> PageSize.shift) + 4)
        #expect(t.memory.states(of: frames).allSatisfy { $0 == .secure }, "\(t.memory.states(of: frames))")
        // Whatever the next kernel shares itself (pool, LPPACAs, DTLs) is in its ledger, not reserved.
        let pool = try #require(next.swiotlbPool)
        #expect(next.memblock?.region(containing: pool.region.base)?.purpose == "swiotlb")
        #expect(t.memory.violationCount == 0)
    }

    @Test("After a normal kexec nothing is inherited and nothing reserved")
    func nothingAfterNormalKexec() throws {
        let t = try GuestTestMachine(cpus: 2, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        let buffer = try kernel.allocateMemory(bytes: PageSize.bytes, purpose: "test")
        try kernel.setMemoryDecrypted(buffer, pageCount: 1, owner: .other, callSite: "test")
        _ = try kernel.kexec(.normal)
        let (next, report) = try t.boot()
        #expect(report.inheritedShares == 0)
        #expect(next.memblock?.reserved.contains { $0.purpose == GuestKernel.inheritedSharePurpose } == false)
        #expect(try next.allocateMemory(bytes: PageSize.bytes, purpose: "test") == buffer, "the page is private again")
    }
}
