import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// UV_PAGE_IN, UV_PAGE_OUT and UV_PAGE_INVAL: every check of reference/ultravisor-facts.md
/// §6 rows 3–14, one bad argument at a time, on a secure SVM over 64 MiB (one memory slot).
@Suite struct PageInOutTests {
    static let outside: UInt64 = 2048 * page  // 128 MiB: past the slot
    static let target: UInt64 = 5 * page

    enum Setup: String, Sendable { case secure, aborted }

    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let call: Ultracall
        let args: @Sendable (Machine) -> [UInt64]
        let setup: Setup
        let pageState: PageState?
        let expected: UltravisorStatus
        var description: String { "\(call.name): \(name)" }
    }

    static func hostPage(_ m: Machine) -> UInt64 { HostMemory.hostAddress(of: .gpa(target)) }

    static let cases: [Case] = [
        // UV_PAGE_IN (r4 lpid, r5 hv_page, r6 gpa, r7 flags, r8 order)
        Case(name: "order 12", call: .pageIn, args: { [1, hostPage($0), target, 0, 12] }, setup: .secure,
            pageState: .normal, expected: .p5),
        Case(name: "hv_page 0", call: .pageIn, args: { _ in [1, 0, target, 0, 16] }, setup: .secure,
            pageState: .normal, expected: .p2),
        Case(name: "hv_page in secure memory", call: .pageIn,
            args: { [1, hostPage($0) | HostMemory.secureMemoryBit, target, 0, 16] }, setup: .secure,
            pageState: .normal, expected: .p2),
        Case(name: "hv_page nobody owns", call: .pageIn, args: { _ in [1, 0x7_0000, target, 0, 16] }, setup: .secure,
            pageState: .normal, expected: .p2),
        Case(name: "no SVM", call: .pageIn, args: { [9, hostPage($0), target, 0, 16] }, setup: .secure,
            pageState: .normal, expected: .parameter),
        Case(name: "gpa outside the slots", call: .pageIn, args: { [1, hostPage($0), outside, 0, 16] }, setup: .secure,
            pageState: .normal, expected: .p3),
        // handle_page_in() never checks the flags (it ORs them into a shared page's PTE),
        // so flags 2 is accepted (was U_P4, a check SVMKit had invented).
        Case(name: "flags 2 (not checked)", call: .pageIn, args: { [1, hostPage($0), target, 2, 16] }, setup: .secure,
            pageState: .normal, expected: .success),
        Case(name: "SECURE page after secure", call: .pageIn, args: { [1, hostPage($0), target, 0, 16] },
            setup: .secure, pageState: .secure, expected: .p2),
        Case(name: "HV_UNSHARED page", call: .pageIn, args: { [1, hostPage($0), target, 0, 16] }, setup: .secure,
            pageState: .hypervisorUnshared, expected: .p2),
        Case(name: "aborted SVM", call: .pageIn, args: { [1, hostPage($0), target, 0, 16] }, setup: .aborted,
            pageState: .normal, expected: .state),
        Case(name: "normal page, non-shared", call: .pageIn, args: { [1, hostPage($0), target, 0, 16] },
            setup: .secure, pageState: .normal, expected: .success),
        Case(name: "invalidated share", call: .pageIn, args: { [1, hostPage($0), target, 1, 16] }, setup: .secure,
            pageState: .sharedInvalid, expected: .success),
    ] + [PageState.shared, .sharedImplicit, .sharedImplicitInvalid, .pseudoShared, .pseudoSharedInvalid,
        .hypervisorShared, .hypervisorSharing, .hypervisorSharedInvalid, .hypervisorUnsharing,
    ].map { (s: PageState) in
        // handle_page_in(): shared pages are remapped (handle_shared_page), pseudo-shared
        // ones get a new hypervisor copy, transient shares become HV_SHARED and an
        // unshare in progress stays HV_UNSHARING (core/svm_host.c, open-power/ultravisor).
        Case(name: "\(s) page (remap, flags 0 as KVM passes)", call: .pageIn,
            args: { [1, hostPage($0), target, 0, 16] }, setup: .secure, pageState: s, expected: .success)
    } + [
        // UV_PAGE_OUT (same five)
        Case(name: "order 12", call: .pageOut, args: { [1, $0.hostMemory.allocatePage(), target, 0, 12] },
            setup: .secure, pageState: .secure, expected: .p5),
        Case(name: "hv_page 0", call: .pageOut, args: { _ in [1, 0, target, 0, 16] }, setup: .secure,
            pageState: .secure, expected: .p2),
        Case(name: "hv_page in secure memory", call: .pageOut,
            args: { [1, $0.hostMemory.allocatePage() | HostMemory.secureMemoryBit, target, 0, 16] }, setup: .secure,
            pageState: .secure, expected: .p2),
        // The frame's own backing is allowed now (KVM's migrate_to_ram gives the GPA a new
        // normal page); another frame's normal page still is not a page SVMKit accepts.
        Case(name: "hv_page another frame's normal page", call: .pageOut,
            args: { _ in [1, HostMemory.hostAddress(of: .gpa(target + page)), target, 0, 16] },
            setup: .secure, pageState: .secure, expected: .p2),
        Case(name: "hv_page the frame's own backing (migrate_to_ram)", call: .pageOut,
            args: { [1, hostPage($0), target, 0, 16] }, setup: .secure, pageState: .secure, expected: .success),
        // handle_page_out() checks the state before __handle_page_out's abort case.
        Case(name: "aborted SVM, shared page: state checked first", call: .pageOut,
            args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] }, setup: .aborted, pageState: .shared,
            expected: .parameter),
        Case(name: "aborted SVM, HV_UNSHARED page: state checked first", call: .pageOut,
            args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] }, setup: .aborted,
            pageState: .hypervisorUnshared, expected: .retry),
        Case(name: "no SVM", call: .pageOut, args: { [9, $0.hostMemory.allocatePage(), target, 0, 16] },
            setup: .secure, pageState: .secure, expected: .parameter),
        Case(name: "gpa outside the slots", call: .pageOut, args: { [1, $0.hostMemory.allocatePage(), outside, 0, 16] },
            setup: .secure, pageState: .secure, expected: .p3),
        Case(name: "shared page", call: .pageOut, args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] },
            setup: .secure, pageState: .shared, expected: .parameter),
        Case(name: "HV_UNSHARED page", call: .pageOut, args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] },
            setup: .secure, pageState: .hypervisorUnshared, expected: .retry),
        Case(name: "aborted SVM: success without copying", call: .pageOut,
            args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] }, setup: .aborted, pageState: .secure,
            expected: .success),
        Case(name: "secure page", call: .pageOut, args: { [1, $0.hostMemory.allocatePage(), target, 0, 16] },
            setup: .secure, pageState: .secure, expected: .success),
        // UV_PAGE_INVAL (r4 lpid, r5 gpa, r6 order)
        Case(name: "order 12", call: .pageInvalidate, args: { _ in [1, target, 12] }, setup: .secure,
            pageState: .shared, expected: .p3),
        Case(name: "no SVM", call: .pageInvalidate, args: { _ in [9, target, 16] }, setup: .secure,
            pageState: .shared, expected: .parameter),
        Case(name: "aborted SVM", call: .pageInvalidate, args: { _ in [1, target, 16] }, setup: .aborted,
            pageState: .shared, expected: .state),
        Case(name: "gpa outside the slots", call: .pageInvalidate, args: { _ in [1, outside, 16] }, setup: .secure,
            pageState: .shared, expected: .p3),
    ] + [PageState.secure, .pagedOut, .hypervisorSharing, .hypervisorUnshared, .normal].map { (s: PageState) in
        Case(name: "\(s) page", call: .pageInvalidate, args: { _ in [1, target, 16] }, setup: .secure,
            pageState: s, expected: .p2)
    } + [PageState.shared, .sharedImplicit, .pseudoShared, .hypervisorShared, .hypervisorUnsharing, .sharedInvalid]
        .map { (s: PageState) in
            Case(name: "\(s) page", call: .pageInvalidate, args: { _ in [1, target, 16] }, setup: .secure,
                pageState: s, expected: .success)
        }

    @Test(arguments: cases)
    func checks(c: Case) throws {
        let t = try TestMachine()
        t.makeSecure()
        if c.setup == .aborted { t.ultravisor.state.withLock { $0.svms[1]?.lifecycle = .aborted } }
        if let s = c.pageState { t.memory.setState(s, frames: (Self.target >> 16)..<((Self.target >> 16) + 1)) }
        let before = t.memory.state(of: GuestFrameNumber(Self.target >> 16))
        let answer = t.machine.ultracall(c.call, c.args(t.machine), from: .hypervisor(), depth: 0)
        #expect(answer.ultravisorStatus == c.expected)
        if c.expected != .success {
            #expect(t.memory.state(of: GuestFrameNumber(Self.target >> 16)) == before, "a refused call changes nothing")
        }
        if c.call == .pageInvalidate, c.expected == .success {
            #expect(t.memory.state(of: GuestFrameNumber(Self.target >> 16)) == before?.invalidated)
        }
        // Every one of them is hypervisor-only.
        for state in PrivilegeState.allCombinations where !(state.isHypervisor && !state.isProblem) {
            t.boot.update { $0.msr = state.msr }
            #expect(UltravisorStatus(register: t.boot.ultracall(c.call, c.args(t.machine)).r3) == .permission)
        }
    }

    @Test func pageOutAndInRoundTripGivesTheHypervisorOnlyCiphertext() throws {
        let t = try TestMachine()
        t.makeSecure()
        let secret = (0..<Int(page)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try t.boot.write(at: .gpa(Self.target), bytes: secret)
        #expect(t.hypervisor.pageOut(frame: Self.target >> 16, on: t.machine) == .success)
        #expect(t.memory.state(of: GuestFrameNumber(Self.target >> 16)) == .pagedOut)
        // The secure page is gone; the hypervisor holds ciphertext only.
        let held = try #require(t.hypervisor.pagedOutPage(frame: Self.target >> 16, on: t.machine))
        #expect(held.bytes.count == Int(page))
        #expect(held.bytes != secret)
        #expect(held.bytes != [UInt8](repeating: 0, count: Int(page)))
        // The hypervisor reading the GPA is not refused: as on KVM it reads the page it
        // holds, and that is ciphertext (was: an isolation violation, before page-out on
        // touch modelled KVM). The pool copy is moved to the frame's own backing.
        #expect(try t.memory.read(.hypervisor, at: .gpa(Self.target), count: Int(page)) == held.bytes)
        #expect(t.memory.violationCount == 0, "the hypervisor read its own page, not secure memory")
        // The guest touches it: the Ultravisor faults it back in through H_SVM_PAGE_IN.
        #expect(try t.boot.read(at: .gpa(Self.target), count: Int(page)) == secret)
        #expect(t.memory.state(of: GuestFrameNumber(Self.target >> 16)) == .secure)
        #expect(t.hypervisor.pageView.pagedOut == 0)
        let names = t.machine.trace.records.suffix(4).map(\.name)
        #expect(names == ["UV_PAGE_OUT", "PAGE_FAULT", "H_SVM_PAGE_IN", "UV_PAGE_IN"])
    }

    @Test func tamperedCiphertextIsDetected() throws {
        let t = try TestMachine()
        t.makeSecure()
        try t.boot.write(at: .gpa(Self.target), bytes: [1, 2, 3])
        #expect(t.hypervisor.pageOut(frame: Self.target >> 16, on: t.machine) == .success)
        let held = try #require(t.hypervisor.pagedOutPage(frame: Self.target >> 16, on: t.machine))
        #expect(t.machine.hostMemory.corrupt(at: held.address, byteOffset: 12_345, mask: 0x10))
        let answer = t.machine.ultracall(.pageIn, [1, held.address, Self.target, 0, 16], from: .hypervisor(), depth: 0)
        #expect(answer.ultravisorStatus == .p3)
        #expect(answer.notes.contains { $0.contains("tampering") })
        #expect(t.memory.state(of: GuestFrameNumber(Self.target >> 16)) == .pagedOut)
        // The guest cannot get it back either.
        #expect(throws: MemoryAccessError.self) { _ = try t.boot.read(at: .gpa(Self.target), count: 3) }
    }

    @Test func eachPageOutUsesAFreshIV() throws {
        let t = try TestMachine()
        t.makeSecure()
        for f in 1...3 as ClosedRange<UInt64> { #expect(t.hypervisor.pageOut(frame: f, on: t.machine) == .success) }
        let records = t.ultravisor.state.withLock { Array($0.svms[1]!.sealedPages.values) }
        #expect(Set(records.map(\.iv)).count == 3)
        #expect(records.allSatisfy { $0.iv.count == 12 && $0.tag.count == 16 })
        // Zero pages encrypt to different ciphertexts under different IVs.
        let c1 = try #require(t.hypervisor.pagedOutPage(frame: 1, on: t.machine)).bytes
        let c2 = try #require(t.hypervisor.pagedOutPage(frame: 2, on: t.machine)).bytes
        #expect(c1 != c2)
    }

    @Test func writePATEKeepsAnSVMsTree() throws {
        let t = try TestMachine()
        #expect(t.machine.ultracall(.writePATE, [2, 0xAAAA, 0xBBBB], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        #expect(t.ultravisor.partitionTableEntry(of: 2) == PartitionTableEntry(doubleword0: 0xAAAA, doubleword1: 0xBBBB))
        t.makeSecure()
        let dw0 = Ultravisor.securePartitionTableDoubleword0(lpid: 1)
        #expect(t.ultravisor.partitionTableEntry(of: 1)?.doubleword0 == dw0)
        #expect(t.machine.ultracall(.writePATE, [1, 0x1111, 0x2222], from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        #expect(t.ultravisor.partitionTableEntry(of: 1) == PartitionTableEntry(doubleword0: dw0, doubleword1: 0x2222))
    }
}
