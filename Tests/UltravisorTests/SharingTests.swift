import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The share protocols of reference/ultravisor-facts.md §5.2–5.3 and the page states
/// and traces they produce.
@Suite struct SharingTests {
    /// The calls made since `start`, as (depth, name, args) triples.
    static func calls(_ t: TestMachine, since start: Int) -> [(Int, String, [UInt64])] {
        t.machine.trace.records.filter { $0.sequence >= start && $0.level != .event }.map { ($0.depth, $0.name, $0.arguments) }
    }

    static func frame(_ f: UInt64) -> GuestFrameNumber { GuestFrameNumber(f) }

    @Test func shareProducesTheDocumentedTraceAndZeroesPages() throws {
        let t = try TestMachine()
        t.makeSecure()
        try t.boot.write(at: .gpa(16 * page), bytes: [0xAA, 0xBB])
        try t.boot.write(at: .gpa(17 * page + 9), bytes: [0xCC])
        let start = t.machine.trace.records.count
        let r3 = t.boot.ultracall(.sharePage, [16, 2]).r3
        #expect(UltravisorStatus(register: r3) == .success, "SVMKit writes the status into r3")
        let calls = Self.calls(t, since: start)
        let host = HostMemory.guestRAMBase
        #expect(calls.map(\.0) == [0, 1, 2, 1, 2])
        #expect(calls.map(\.1) == ["UV_SHARE_PAGE", "H_SVM_PAGE_IN", "UV_PAGE_IN", "H_SVM_PAGE_IN", "UV_PAGE_IN"])
        #expect(calls[0].2 == [16, 2])
        #expect(calls[1].2 == [16 * page, Hypercall.pageInShared, 16])
        // KVM passes flags 0 to UV_PAGE_IN on every path, shares included
        // (book3s_hv_uvmem.c: kvmppc_share_page, 6.12); SVMKit's hypervisor passed 1.
        #expect(calls[2].2 == [1, host + 16 * page, 16 * page, 0, 16])
        #expect(calls[3].2 == [17 * page, Hypercall.pageInShared, 16])
        #expect(calls[4].2 == [1, host + 17 * page, 17 * page, 0, 16])
        #expect(t.memory.states(of: 16..<18) == [.shared, .shared])
        // Zeroed: neither the SVM's data nor anything else leaks to the hypervisor.
        #expect(try t.memory.read(.hypervisor, at: .gpa(16 * page), count: Int(2 * page)).allSatisfy { $0 == 0 })
        // Both sides now see the same page.
        try t.memory.write(.hypervisor, at: .gpa(16 * page + 4), bytes: [1, 2, 3])
        #expect(try t.boot.read(at: .gpa(16 * page + 4), count: 3) == [1, 2, 3])
        #expect(t.hypervisor.sharedFrames == [16, 17])
        // Sharing again is idempotent: no hypercalls, same states, data kept.
        let again = t.machine.trace.records.count
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [16, 2]).r3) == .success)
        #expect(Self.calls(t, since: again).map(\.1) == ["UV_SHARE_PAGE"])
        #expect(try t.boot.read(at: .gpa(16 * page + 4), count: 3) == [1, 2, 3])
    }

    @Test func unshareProducesTheDocumentedTraceAndZeroesPages() throws {
        let t = try TestMachine()
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [20, 2]).r3) == .success)
        try t.memory.write(.hypervisor, at: .gpa(20 * page), bytes: [9, 9, 9])
        let start = t.machine.trace.records.count
        // The range may include secure pages: they are skipped.
        #expect(UltravisorStatus(register: t.boot.ultracall(.unsharePage, [19, 4]).r3) == .success)
        let calls = Self.calls(t, since: start)
        #expect(calls.map(\.1) == ["UV_UNSHARE_PAGE", "H_SVM_PAGE_IN", "UV_PAGE_IN", "H_SVM_PAGE_IN", "UV_PAGE_IN"])
        #expect(calls[1].2 == [20 * page, Hypercall.pageInNonShared, 16])
        #expect(calls[2].2[3] == Hypercall.pageInNonShared)
        #expect(t.memory.states(of: 19..<23) == [.secure, .secure, .secure, .secure])
        // The secure page comes back zeroed; the hypervisor can no longer read it: its
        // access pages it out (KVM's migrate_to_ram) and it sees ciphertext, recorded as
        // an isolation violation (before: the access failed).
        #expect(try t.boot.read(at: .gpa(20 * page), count: 3) == [0, 0, 0])
        #expect(try t.memory.read(.hypervisor, at: .gpa(20 * page), count: 3) != [0, 0, 0])
        #expect(t.memory.violations.map(\.handling) == [.pageOut])
        #expect(t.hypervisor.sharedFrames.isEmpty)
    }

    @Test func unshareAllTouchesExplicitSharesOnly() throws {
        let t = try TestMachine()
        t.makeSecure()
        var notes: [String] = []
        let ctx = t.context()
        #expect(t.ultravisor.share(ctx, frames: 40..<42, kind: .implicit, notes: &notes) == .success)
        #expect(t.ultravisor.share(ctx, frames: 50..<51, kind: .pseudo, notes: &notes) == .success)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [60, 3]).r3) == .success)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [70, 1]).r3) == .success)
        // One explicit share invalidated by the hypervisor counts too.
        #expect(t.machine.ultracall(.pageInvalidate, [1, 70 * page, 16], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        #expect(t.memory.state(of: Self.frame(70)) == .sharedInvalid)
        let start = t.machine.trace.records.count
        #expect(UltravisorStatus(register: t.boot.ultracall(.unshareAllPages).r3) == .success)
        let calls = Self.calls(t, since: start)
        #expect(calls.filter { $0.1 == "H_SVM_PAGE_IN" }.map { $0.2[0] } == [60, 61, 62, 70].map { $0 * page })
        #expect(calls.filter { $0.1 == "H_SVM_PAGE_IN" }.allSatisfy { $0.2[1] == Hypercall.pageInNonShared })
        #expect(t.memory.states(of: 60..<63) == [.secure, .secure, .secure])
        #expect(t.memory.state(of: Self.frame(70)) == .secure)
        // Implicit and pseudo shares survive.
        #expect(t.memory.states(of: 40..<42) == [.sharedImplicit, .sharedImplicit])
        #expect(t.memory.state(of: Self.frame(50)) == .pseudoShared)
        #expect(t.memory.pageCount(in: .shared) == 0)
    }

    @Test func implicitAndPseudoSharesCannotBeUnshared() throws {
        let t = try TestMachine()
        t.makeSecure()
        var notes: [String] = []
        #expect(t.ultravisor.share(t.context(), frames: 40..<41, kind: .implicit, notes: &notes) == .success)
        #expect(t.ultravisor.share(t.context(), frames: 44..<45, kind: .pseudo, notes: &notes) == .success)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [41, 1]).r3) == .success)
        let start = t.machine.trace.records.count
        // Checked before any change: the explicit share at 41 stays too.
        #expect(UltravisorStatus(register: t.boot.ultracall(.unsharePage, [40, 2]).r3) == .p2)
        #expect(UltravisorStatus(register: t.boot.ultracall(.unsharePage, [44, 1]).r3) == .p2)
        #expect(Self.calls(t, since: start).map(\.1) == ["UV_UNSHARE_PAGE", "UV_UNSHARE_PAGE"])
        #expect(t.memory.states(of: 40..<42) == [.sharedImplicit, .shared])
        #expect(t.memory.state(of: Self.frame(44)) == .pseudoShared)
    }

    @Test func rangesAreCheckedBeforeAnyChange() throws {
        let t = try TestMachine()
        t.makeSecure()
        let pages = UInt64(t.memory.pageCount)
        // Past the memory slot, wrapping, and a transient page in the middle.
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [pages - 1, 2]).r3) == .p2)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [UInt64.max - 1, 4]).r3) == .p2)
        t.memory.setState(.hypervisorSharing, frames: 12..<13)
        // Unshare checks the whole range first: nothing changes.
        #expect(UltravisorStatus(register: t.boot.ultracall(.unsharePage, [10, 4]).r3) == .p2)
        #expect(UltravisorStatus(register: t.boot.ultracall(.unshareAllPages).r3) == .state)
        #expect(t.memory.states(of: 10..<14) == [.secure, .secure, .hypervisorSharing, .secure])
        // Share checks page by page (page_share_with_hv): the transient page at 12 stops
        // it with U_P2 and the pages 10 and 11 it already moved stay HV_SHARED, as on the
        // firmware (was: checked before any change).
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [10, 4]).r3) == .p2)
        #expect(t.memory.states(of: 10..<14) == [.hypervisorShared, .hypervisorShared, .hypervisorSharing, .secure])
        #expect(t.memory.states(of: (pages - 1)..<pages) == [.secure])
        // An empty range is a no-op.
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [10, 0]).r3) == .success)
    }

    @Test func aFailedPageInRevertsTheWholeShare() throws {
        let rule = FaultRule(
            opcode: .hypercall(.svmPageIn), caller: .ultravisor, trigger: .nth(3),
            action: .status(HypervisorStatus.busy.rawValue))
        let t = try TestMachine()
        t.makeSecure()
        t.machine.faults.add(rule)
        try t.boot.write(at: .gpa(30 * page), bytes: [5, 6])
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 4]).r3) == .p2)
        // Reverted to secure without zeroing.
        #expect(t.memory.states(of: 30..<34) == [.secure, .secure, .secure, .secure])
        #expect(try t.boot.read(at: .gpa(30 * page), count: 2) == [5, 6])
        #expect(t.memory.pageCount(in: .shared) == 0)
    }

    @Test func partialProgressFaultStopsPartWay() throws {
        let rule = FaultRule(
            opcode: .ultracall(.sharePage), trigger: .nth(1),
            action: .partial(pages: 3, status: UltravisorStatus.busy.rawValue))
        let t = try TestMachine(faults: [rule])
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 8]).r3) == .busy)
        #expect(t.memory.states(of: 30..<34) == [.shared, .shared, .shared, .secure])
        #expect(t.machine.faults.injections.count == 1)
    }

    @Test func sharingAPagedOutPageBringsItInFirst() throws {
        let t = try TestMachine()
        t.makeSecure()
        #expect(t.hypervisor.pageOut(frame: 33, on: t.machine) == .success)
        let start = t.machine.trace.records.count
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [33, 1]).r3) == .success)
        let calls = Self.calls(t, since: start).filter { $0.1 == "H_SVM_PAGE_IN" }.map { $0.2[1] }
        #expect(calls == [Hypercall.pageInNonShared, Hypercall.pageInShared])
        #expect(t.memory.state(of: Self.frame(33)) == .shared)
        #expect(t.hypervisor.pageView.pagedOut == 0)
    }

    @Test func hypervisorReadsFailOnSecurePagesAndWorkOnSharedOnes() throws {
        let t = try TestMachine(hypervisorTouch: .stop)
        t.makeSecure()
        try t.boot.write(at: .gpa(8 * page), bytes: Array("secret".utf8))
        // --hv-touch stop: the debugging mode keeps the immediate failure (the default
        // now pages the page out as KVM does; see hypervisorReadOfSecurePageSeesCiphertext).
        #expect(throws: MemoryAccessError.self) {
            _ = try t.memory.read(.hypervisor, at: .gpa(8 * page), count: 6, purpose: "snoop")
        }
        #expect(t.memory.violationCount == 1)
        #expect(t.memory.violations.first?.purpose == "snoop")
        #expect(t.memory.violations.first?.handling == .stop)
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [8, 1]).r3) == .success)
        #expect(try t.memory.read(.hypervisor, at: .gpa(8 * page), count: 6) == [0, 0, 0, 0, 0, 0])
        #expect(t.memory.violationCount == 1)
    }

    @Test func secureGuestTouchingTheUltravisorsBouncePageIsKilled() throws {
        let t = try TestMachine()
        t.makeSecure()
        var notes: [String] = []
        #expect(t.ultravisor.share(t.context(), frames: 90..<91, kind: .implicit, notes: &notes) == .success)
        #expect(throws: MemoryAccessError.self) { _ = try t.boot.read(at: .gpa(90 * page), count: 1) }
        #expect(t.machine.isStopped)
        guard case .killed(let kill)? = t.machine.stopReason else {
            Issue.record("not killed")
            return
        }
        #expect(kill.address == .gpa(90 * page))
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [1, 1]).r3) == .hardware)
    }

    @Test func sharingNeedsASecureSupervisor() throws {
        let t = try TestMachine()
        t.makeSecure()
        for state in PrivilegeState.allCombinations where !(state.isSecure && !state.isHypervisor && !state.isProblem) {
            t.boot.update { $0.msr = state.msr }
            for call in [Ultracall.sharePage, .unsharePage, .unshareAllPages] {
                #expect(UltravisorStatus(register: t.boot.ultracall(call, [16, 1]).r3) == .permission)
            }
        }
        #expect(t.memory.pageCount(in: .shared) == 0)
    }
}
