import PowerABI
import Testing

@_spi(Firmware) @testable import PEFMachine

/// `GuestMemory`'s page-out on touch (`HypervisorTouch.pageOut`), the model of KVM's
/// `kvmppc_uvmem_migrate_to_ram()` (`book3s_hv_uvmem.c`, 6.12), at the memory level:
/// the hypervisor's handler runs outside the lock, the access is recorded once, and a
/// page whose ciphertext is in its own backing is the hypervisor's to touch.
@Suite struct HypervisorTouchTests {
    static let page = 1 << 16

    /// A handler that stands for the Ultravisor's page-out: ciphertext (here: every byte
    /// inverted) into the frame, PAGEDOUT, held by the hypervisor.
    static func pageOutHandler(_ memory: GuestMemory) -> @Sendable (PageFault) -> Bool {
        { [unowned memory] fault in
            memory.editPages { e in
                let f = fault.frame.rawValue
                e.setPageBytes(frame: f, e.pageBytes(frame: f).map { ~$0 })
                e.setState(.pagedOut, frame: f)
                e.markHypervisorHeld(frame: f)
            }
            return true
        }
    }

    @Test func aHypervisorReadPagesOutOnceAndSeesTheHandlersBytes() throws {
        let memory = try GuestMemory(byteCount: 4 * UInt64(Self.page))
        memory.setState(.secure, frames: 1..<2)
        memory.editPages { $0.setPageBytes(frame: 1, [1, 2, 3]) }
        memory.setHypervisorFaultHandler(Self.pageOutHandler(memory))
        let seen = try memory.read(.hypervisor, at: GuestPhysicalAddress(rawValue: UInt64(Self.page)), count: 3, purpose: "probe")
        #expect(seen == [0xFE, 0xFD, 0xFC])
        #expect(memory.state(of: GuestFrameNumber(rawValue: 1)) == .pagedOut)
        #expect(memory.isHypervisorHeld(GuestFrameNumber(rawValue: 1)))
        #expect(memory.violationCount == 1, "recorded once")
        #expect(memory.violations.first?.handling == .pageOut)
        // Its own page now: no further record, writes land in it.
        try memory.write(.hypervisor, at: GuestPhysicalAddress(rawValue: UInt64(Self.page)), bytes: [9])
        #expect(memory.violationCount == 1)
        // Leaving PAGEDOUT drops the hold.
        memory.setState(.secure, frames: 1..<2)
        #expect(!memory.isHypervisorHeld(GuestFrameNumber(rawValue: 1)))
    }

    @Test func aRefusedPageOutFailsTheAccessAndStopModeNeverCallsTheHandler() throws {
        let memory = try GuestMemory(byteCount: 4 * UInt64(Self.page))
        memory.setState(.secure, frames: 2..<3)
        memory.setHypervisorFaultHandler { _ in false }
        #expect(throws: MemoryAccessError.self) {
            _ = try memory.read(.hypervisor, at: GuestPhysicalAddress(rawValue: 2 * UInt64(Self.page)), count: 8)
        }
        #expect(memory.violationCount == 1)
        let stop = try GuestMemory(byteCount: 4 * UInt64(Self.page), hypervisorTouch: .stop)
        stop.setState(.secure, frames: 2..<3)
        stop.setHypervisorFaultHandler { _ in
            Issue.record("stop mode called the handler")
            return true
        }
        #expect(throws: MemoryAccessError.self) {
            _ = try stop.read(.hypervisor, at: GuestPhysicalAddress(rawValue: 2 * UInt64(Self.page)), count: 8)
        }
        #expect(stop.violations.first?.handling == .stop)
        // A normal vCPU is never paged out for: it is no hypervisor.
        #expect(throws: MemoryAccessError.self) {
            _ = try memory.read(
                .guestState(vcpu: 0, msr: .guestKernel), at: GuestPhysicalAddress(rawValue: 2 * UInt64(Self.page)), count: 8)
        }
    }
}
