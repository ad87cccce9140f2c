import PowerABI
import Testing

@testable import SecureGuest
import PEFTestSupport

/// `PAGE_ALIGN` through `PageSize.alignUp` (issue 20 item 4): a size in the last page
/// of the address space is an allocation failure, not an arithmetic trap (the
/// hand-rolled `(bytes + 0xFFFF) & ~0xFFFF` trapped on overflow).
@Suite("Page alignment of allocation sizes")
struct PageAlignTests {
    @Test("allocateMemory of a size that overflows PAGE_ALIGN fails with the size named")
    func overflowingSize() throws {
        let t = try GuestTestMachine(cpus: 1)
        let (kernel, _) = try t.boot()
        let error = #expect(throws: GuestKernelError.self) { try kernel.allocateMemory(bytes: UInt64.max - 1) }
        guard case .allocation(let e)? = error else {
            Issue.record("expected an allocation error, got \(String(describing: error))")
            return
        }
        #expect(e.size == UInt64.max - 1)
        #expect(try kernel.allocateMemory(bytes: 1).isPageAligned, "small sizes still round to a page")
    }
}
