import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

@Suite struct MemorySlotTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let lpid: UInt64
        let start: UInt64
        let size: UInt64
        let slot: UInt64
        let expected: UltravisorStatus
        var description: String { name }
    }

    /// reference/ultravisor-facts.md §6 rows 15–16, one bad argument at a time, with an
    /// existing slot 0 over [0, 16 pages).
    static let cases: [Case] = [
        Case(name: "valid, next to slot 0", lpid: 1, start: 16 * page, size: 16 * page, slot: 1, expected: .success),
        Case(name: "same id replaces", lpid: 1, start: 0, size: 8 * page, slot: 0, expected: .success),
        Case(name: "slot id used as u16", lpid: 1, start: 32 * page, size: page, slot: 0x1_0002, expected: .success),
        Case(name: "no SVM for the LPID", lpid: 9, start: 16 * page, size: page, slot: 1, expected: .parameter),
        Case(name: "slot id 512", lpid: 1, start: 16 * page, size: page, slot: 512, expected: .parameter),
        Case(name: "start not aligned", lpid: 1, start: 16 * page + 0x1000, size: page, slot: 1, expected: .parameter),
        Case(name: "zero size", lpid: 1, start: 16 * page, size: 0, slot: 1, expected: .parameter),
        Case(name: "wraps", lpid: 1, start: 0xFFFF_FFFF_FFFF_0000, size: 2 * page, slot: 1, expected: .parameter),
        Case(name: "overlaps slot 0", lpid: 1, start: 8 * page, size: 16 * page, slot: 1, expected: .parameter),
        Case(name: "past guest memory", lpid: 1, start: 512 * page, size: 1024 * page, slot: 1, expected: .parameter),
    ]

    @Test(arguments: cases)
    func registerChecks(c: Case) throws {
        let t = try TestMachine()
        #expect(t.ultravisor.createSVM(lpid: 1, on: t.machine) == .success)
        let first = t.machine.ultracall(.registerMemorySlot, [1, 0, 16 * page, 0, 0], from: .hypervisor(), depth: 0)
        #expect(first.ultravisorStatus == .success)
        let answer = t.machine.ultracall(
            .registerMemorySlot, [c.lpid, c.start, c.size, 0, c.slot], from: .hypervisor(), depth: 0)
        #expect(answer.ultravisorStatus == c.expected)
        let slots = t.ultravisor.memorySlots(of: 1)
        if c.expected == .success {
            #expect(slots.contains { $0.id == UInt16(truncatingIfNeeded: c.slot) && $0.size == c.size })
        } else {
            #expect(slots == [MemorySlot(id: 0, start: .gpa(0), size: 16 * page)])
        }
        #expect(t.ultravisor.anomalies.isEmpty == (c.lpid == 1))
    }

    @Test func unregisterAlwaysSucceeds() throws {
        let t = try TestMachine()
        _ = t.ultravisor.createSVM(lpid: 1, on: t.machine)
        _ = t.machine.ultracall(.registerMemorySlot, [1, 0, 16 * page, 0, 3], from: .hypervisor(), depth: 0)
        for args: [UInt64] in [[1, 7], [9, 3], [1, 0xFFFF_FFFF], [1, 3]] {
            #expect(t.machine.ultracall(.unregisterMemorySlot, args, from: .hypervisor(), depth: 0).ultravisorStatus == .success)
        }
        #expect(t.ultravisor.memorySlots(of: 1).isEmpty)
    }

    @Test func guestsCannotRegisterSlots() throws {
        let t = try TestMachine()
        _ = t.ultravisor.createSVM(lpid: 1, on: t.machine)
        for state in PrivilegeState.allCombinations where !(state.isHypervisor && !state.isProblem) {
            t.boot.update { $0.msr = state.msr }
            let r3 = t.boot.ultracall(.registerMemorySlot, [1, 0, 16 * page, 0, 0]).r3
            #expect(UltravisorStatus(register: r3) == .permission)
        }
        #expect(t.ultravisor.memorySlots(of: 1).isEmpty)
    }

    @Test func slotUnionCoversAdjacentSlots() {
        var svm = SVMState(lpid: 1, memoryPages: 64, random: DeterministicRandom(seed: 0))
        svm.memorySlots[0] = MemorySlot(id: 0, start: .gpa(0), size: 4 * page)
        svm.memorySlots[1] = MemorySlot(id: 1, start: .gpa(4 * page), size: 4 * page)
        svm.memorySlots[2] = MemorySlot(id: 2, start: .gpa(10 * page), size: 4 * page)
        #expect(svm.slotsCover(2 * page, 4 * page))
        #expect(svm.slotsCover(frames: 0..<8))
        #expect(!svm.slotsCover(frames: 7..<11))
        #expect(!svm.slotsCover(frames: 3..<3))
        #expect(!svm.slotsCover(UInt64.max - 10, 20))
    }
}
