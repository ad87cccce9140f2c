import Foundation
import PowerABI
import Testing

@_spi(Firmware) @testable import PEFMachine

/// Resident set size of this process from /proc/self/statm (field 2, in pages).
func processResidentBytes() -> UInt64 {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
    return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
}

extension GuestPhysicalAddress {
    static func gpa(_ v: UInt64) -> GuestPhysicalAddress { GuestPhysicalAddress(rawValue: v) }
}

let page: UInt64 = 1 << 16

@Suite struct GuestMemoryTests {
    @Test func sixtyFourGiBMachineIsCheap() throws {
        let before = processResidentBytes()
        let machine = try Machine(
            configuration: MachineConfiguration(memoryBytes: 64 << 30, processorCount: 16, seed: 7))
        let after = processResidentBytes()
        #expect(machine.memory.pageCount == 1 << 20)
        // Guest RAM itself: nothing resident until touched (mincore).
        #expect(machine.memory.residentBytes() == 0)
        // The whole process grew by the page table (1 MiB) and little else.
        #expect(after &- before < 256 << 20, "RSS grew by \(after &- before) bytes")
        // Touching one page costs one page, not the mapping.
        try machine.memory.write(.hypervisor, at: .gpa(40 << 30), bytes: [1])
        #expect(machine.memory.residentBytes() <= 64 << 10)
    }

    @Test func invalidSizesAreTypedErrors() {
        #expect(throws: MachineConfigurationError.invalidMemorySize(bytes: 0, reason: "zero")) {
            _ = try GuestMemory(byteCount: 0)
        }
        #expect(throws: MachineConfigurationError.invalidMemorySize(bytes: 1000, reason: "not a multiple of 64 KiB")) {
            _ = try GuestMemory(byteCount: 1000)
        }
        #expect(throws: MachineConfigurationError.invalidProcessorCount(0)) {
            _ = try Machine(configuration: MachineConfiguration(memoryBytes: 1 << 20, processorCount: 0))
        }
        #expect(throws: MachineConfigurationError.invalidLPID(0)) {
            _ = try Machine(configuration: MachineConfiguration(memoryBytes: 1 << 20, lpid: 0))
        }
    }

    @Test func readsAndWritesRoundTrip() throws {
        let memory = try GuestMemory(byteCount: 4 * page)
        let bytes = (0..<100).map { UInt8($0) }
        // Across a page boundary.
        try memory.write(.hypervisor, at: .gpa(page - 50), bytes: bytes)
        #expect(try memory.read(.hypervisor, at: .gpa(page - 50), count: 100) == bytes)
        try memory.writeBigEndian(.ultravisor, at: .gpa(8), UInt32(0xD00D_FEED))
        #expect(try memory.read(.ultravisor, at: .gpa(8), count: 4) == [0xD0, 0x0D, 0xFE, 0xED])
        #expect(try memory.readBigEndian(.hypervisor, at: .gpa(8), as: UInt32.self) == 0xD00D_FEED)
    }

    @Test func outOfRangeAndWrappingAccessesFail() throws {
        let memory = try GuestMemory(byteCount: 4 * page)
        #expect(throws: MemoryAccessError.outOfRange(address: .gpa(4 * page - 2), count: 4, memoryBytes: 4 * page)) {
            _ = try memory.read(.hypervisor, at: .gpa(4 * page - 2), count: 4)
        }
        #expect(throws: MemoryAccessError.self) { _ = try memory.read(.ultravisor, at: .gpa(UInt64.max - 1), count: 4) }
        #expect(throws: MemoryAccessError.self) { _ = try memory.read(.ultravisor, at: .gpa(0), count: -1) }
    }

    @Test func hypervisorReadOfSecurePageFailsAndIsRecorded() throws {
        let memory = try GuestMemory(byteCount: 4 * page)
        memory.setState(.secure, frames: 1..<2)
        #expect(throws: MemoryAccessError.self) {
            _ = try memory.read(.hypervisor, at: .gpa(page + 8), count: 16, purpose: "test probe")
        }
        #expect(memory.violationCount == 1)
        let v = try #require(memory.violations.first)
        #expect(v.address == .gpa(page + 8))
        #expect(v.pageState == .secure)
        #expect(v.caller.kind == .hypervisor)
        #expect(v.access == .read)
        #expect(v.purpose == "test probe")
        // A range that starts in a normal page and runs into the secure one fails too,
        // and names the first secure byte it touched.
        #expect(throws: MemoryAccessError.self) {
            try memory.write(.hypervisor, at: .gpa(page - 4), bytes: [1, 2, 3, 4, 5, 6])
        }
        #expect(memory.violations.last?.address == .gpa(page))
        #expect(memory.violations.last?.access == .write)
        // Nothing was written to the normal part either: the access is checked first.
        #expect(try memory.read(.hypervisor, at: .gpa(page - 4), count: 4) == [0, 0, 0, 0])
        // A shared page is readable.
        memory.setState(.shared, frames: 1..<2)
        #expect(try memory.read(.hypervisor, at: .gpa(page + 8), count: 16).count == 16)
        #expect(memory.violationCount == 2)
    }

    /// The access rule table of `GuestMemory`, state by state and actor by actor.
    @Test(arguments: PageState.allCases)
    func accessRules(state: PageState) throws {
        enum Outcome: Equatable { case ok, violation, kill, unavailable }
        let expectations: [(MemoryActor, Outcome)] = [
            (.hypervisor, [.secure, .pagedOut, .hypervisorSharing, .hypervisorUnshared].contains(state) ? .violation : .ok),
            (.ultravisor, state == .pagedOut ? .unavailable : .ok),
            (
                .guestState(vcpu: 0, msr: .guestKernel),
                [.secure, .pagedOut, .hypervisorSharing, .hypervisorUnshared].contains(state) ? .violation : .ok
            ),
            (
                .guestState(vcpu: 0, msr: MachineStateRegister.guestKernel.union(.secure)),
                [.secure, .shared, .pseudoShared].contains(state)
                    ? .ok
                    : [.sharedImplicit, .sharedImplicitInvalid].contains(state) ? .kill : .unavailable
            ),
        ]
        for (actor, expected) in expectations {
            let memory = try GuestMemory(byteCount: 2 * page)
            memory.setState(state, frames: 0..<1)
            let outcome: Outcome
            do {
                _ = try memory.read(actor, at: .gpa(16), count: 8)
                outcome = .ok
            } catch .isolationViolation {
                outcome = .violation
            } catch .svmKilled {
                outcome = .kill
            } catch {
                outcome = .unavailable
            }
            #expect(outcome == expected, "\(actor.caller) on \(state)")
            #expect(memory.violationCount == (expected == .violation ? 1 : 0))
            #expect((memory.kill != nil) == (expected == .kill))
        }
    }

    @Test func secureGuestTouchingImplicitShareKillsTheSVM() throws {
        let memory = try GuestMemory(byteCount: 2 * page)
        memory.setState(.sharedImplicit, frames: 1..<2)
        let secure = MemoryActor.guestState(vcpu: 3, msr: MachineStateRegister.guestKernel.union(.secure))
        #expect(throws: MemoryAccessError.self) { try memory.write(secure, at: .gpa(page), bytes: [1]) }
        let kill = try #require(memory.kill)
        #expect(kill.vcpu == 3)
        #expect(kill.address == .gpa(page))
        #expect(kill.pageState == .sharedImplicit)
        // The hypervisor and the Ultravisor may use the page.
        try memory.write(.hypervisor, at: .gpa(page), bytes: [7])
        #expect(try memory.read(.ultravisor, at: .gpa(page), count: 1) == [7])
    }

    @Test func pseudoSharedPageHasASeparateZeroedHypervisorCopy() throws {
        let memory = try GuestMemory(byteCount: 2 * page)
        let secure = MemoryActor.guestState(vcpu: 0, msr: MachineStateRegister.guestKernel.union(.secure))
        memory.setState(.secure, frames: 0..<2)
        try memory.write(.ultravisor, at: .gpa(page + 100), bytes: [0xAA, 0xBB])
        memory.setState(.pseudoShared, frames: 1..<2)
        // The hypervisor sees zeros, and its writes go to its own copy.
        #expect(try memory.read(.hypervisor, at: .gpa(page + 100), count: 2) == [0, 0])
        try memory.write(.hypervisor, at: .gpa(page + 100), bytes: [1, 2])
        #expect(try memory.read(.hypervisor, at: .gpa(page + 100), count: 2) == [1, 2])
        // The SVM keeps its secure copy.
        #expect(try memory.read(secure, at: .gpa(page + 100), count: 2) == [0xAA, 0xBB])
        #expect(memory.editPages { $0.hypervisorCopy(frame: 1)?[100] } == 1)
        // A hypervisor range over a normal and the pseudo page is stitched together...
        memory.setState(.normal, frames: 0..<1)
        try memory.write(.hypervisor, at: .gpa(page - 1), bytes: [9])
        #expect(try memory.read(.hypervisor, at: .gpa(page - 1), count: 103).suffix(2) == [1, 2])
        // ...but no single pointer can cover it.
        #expect(throws: MemoryAccessError.notContiguous(address: .gpa(page - 1), count: 2)) {
            try memory.withUnsafeBytes(.hypervisor, at: .gpa(page - 1), count: 2) { _ in () }
        }
        // Leaving the pseudo state drops the hypervisor copy.
        memory.setState(.secure, frames: 1..<2)
        #expect(memory.editPages { $0.hypervisorCopy(frame: 1) } == nil)
    }

    @Test func zeroingGivesPagesBack() throws {
        let memory = try GuestMemory(byteCount: 64 * page)
        let ones = [UInt8](repeating: 1, count: Int(16 * page))
        try memory.write(.ultravisor, at: .gpa(0), bytes: ones)
        #expect(memory.residentBytes() >= 16 * page)
        try memory.zero(.ultravisor, at: .gpa(0), count: Int(16 * page))
        #expect(memory.residentBytes() == 0)
        #expect(try memory.read(.ultravisor, at: .gpa(0), count: Int(16 * page)).allSatisfy { $0 == 0 })
        // Ragged ends are cleared too.
        try memory.write(.ultravisor, at: .gpa(10), bytes: [1, 1, 1, 1])
        try memory.zero(.ultravisor, at: .gpa(11), count: 2)
        #expect(try memory.read(.ultravisor, at: .gpa(10), count: 4) == [1, 0, 0, 1])
    }

    @Test func stateChangesOfUntouchedPagesCostNothing() throws {
        let memory = try GuestMemory(byteCount: 1 << 30)
        memory.setState(.secure, frames: 0..<UInt64(memory.pageCount))
        memory.editPages { e in
            e.zero(frames: 0..<UInt64(e.pageCount))
            e.setState(.shared, frames: 0..<UInt64(e.pageCount))
        }
        #expect(memory.residentBytes() == 0)
        #expect(memory.pageCount(in: .shared) == memory.pageCount)
        #expect(memory.pageCountsByState == [.shared: memory.pageCount])
    }

    @Test func unsafeBulkAccessChecksOnce() throws {
        let memory = try GuestMemory(byteCount: 8 * page)
        try memory.withUnsafeMutableBytes(.hypervisor, at: .gpa(page), count: Int(2 * page)) { buffer in
            for i in buffer.indices { buffer[i] = UInt8(truncatingIfNeeded: i) }
        }
        let sum = try memory.withUnsafeBytes(.hypervisor, at: .gpa(page), count: Int(2 * page)) { buffer in
            buffer.reduce(0) { $0 &+ Int($1) }
        }
        #expect(sum == (0..<Int(2 * page)).reduce(0) { $0 &+ Int(UInt8(truncatingIfNeeded: $1)) })
        memory.setState(.secure, frames: 2..<3)
        #expect(throws: MemoryAccessError.self) {
            try memory.withUnsafeBytes(.hypervisor, at: .gpa(page), count: Int(2 * page)) { _ in () }
        }
        #expect(memory.violationCount == 1)
    }

    @Test func copyChecksBothRanges() throws {
        let memory = try GuestMemory(byteCount: 8 * page)
        try memory.write(.hypervisor, at: .gpa(100), bytes: [1, 2, 3, 4])
        try memory.copy(.hypervisor, from: .gpa(100), to: .gpa(3 * page + 5), count: 4)
        #expect(try memory.read(.hypervisor, at: .gpa(3 * page + 5), count: 4) == [1, 2, 3, 4])
        memory.setState(.secure, frames: 5..<6)
        #expect(throws: MemoryAccessError.self) {
            try memory.copy(.hypervisor, from: .gpa(100), to: .gpa(5 * page), count: 4)
        }
        #expect(throws: MemoryAccessError.self) {
            try memory.copy(.hypervisor, from: .gpa(5 * page), to: .gpa(100), count: 4)
        }
        #expect(memory.violationCount == 2)
    }

    @Test func cStringReadStopsAtTheTerminator() throws {
        let memory = try GuestMemory(byteCount: 4 * page)
        let text = Array("Switch to secure mode failed.".utf8)
        try memory.write(.hypervisor, at: .gpa(page - UInt64(text.count) - 1), bytes: text + [0])
        memory.setState(.secure, frames: 1..<2)
        // The terminator is the last byte of page 0: the secure page 1 is never touched.
        #expect(try memory.readCString(.hypervisor, at: .gpa(page - UInt64(text.count) - 1), maxLength: 511) == text)
        #expect(memory.violationCount == 0)
        // Without a terminator, the length bound applies.
        try memory.write(.hypervisor, at: .gpa(2 * page), bytes: [UInt8](repeating: 65, count: 20))
        memory.setState(.normal, frames: 0..<4)
        #expect(try memory.readCString(.hypervisor, at: .gpa(2 * page), maxLength: 10).count == 10)
    }

    @Test func secureGuestFaultsAreResolvedByTheHandler() throws {
        let memory = try GuestMemory(byteCount: 2 * page)
        let faults = Mutex<[PageFault]>([])
        memory.setFaultHandler { [weak memory] fault in
            faults.withLock { $0.append(fault) }
            memory?.setState(.secure, frames: fault.frame.rawValue..<(fault.frame.rawValue + 1))
            return true
        }
        let secure = MemoryActor.guestState(vcpu: 1, msr: MachineStateRegister.guestKernel.union(.secure))
        try memory.write(secure, at: .gpa(page + 1), bytes: [5])
        #expect(faults.withLock { $0 } == [PageFault(frame: GuestFrameNumber(1), state: .normal, vcpu: 1, access: .write)])
        #expect(try memory.read(secure, at: .gpa(page + 1), count: 1) == [5])
        // Without a handler the access fails without a violation.
        memory.setFaultHandler(nil)
        #expect(throws: MemoryAccessError.self) { _ = try memory.read(secure, at: .gpa(0), count: 1) }
        #expect(memory.violationCount == 0)
    }
}

import Synchronization
