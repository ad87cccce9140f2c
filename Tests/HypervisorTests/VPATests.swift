import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// H_REGISTER_VPA and the Dispatch Trace Log.
@Suite struct VPATests {
    static func flags(_ subFunction: UInt64) -> UInt64 { subFunction << 45 }

    /// Writes a VPA (size 0x280 at offset 4) and a DTL header (length at offset 4).
    static func prepare(_ p: VirtualProcessor, vpa: UInt64, dtl: UInt64, dtlBytes: UInt32 = 4096) throws {
        try p.write(at: .gpa(vpa + 4), bytes: [0x02, 0x80])
        try p.write(at: .gpa(dtl + 4), bytes: [UInt8(dtlBytes >> 24), UInt8(dtlBytes >> 16 & 0xFF), UInt8(dtlBytes >> 8 & 0xFF), UInt8(dtlBytes & 0xFF)])
    }

    @Test func registeringANonSharedVPAFailsWithANamedViolation() throws {
        let t = try TestMachine()
        t.makeSecure()
        try Self.prepare(t.boot, vpa: 30 * page, dtl: 31 * page)
        let r3 = t.boot.hypercall(.registerVPA, [Self.flags(1), 0, 30 * page]).r3
        #expect(HypervisorStatus(register: r3) == .parameter)
        let v = try #require(t.memory.violations.first)
        #expect(v.purpose == "H_REGISTER_VPA: VPA of vcpu 0")
        #expect(v.address == .gpa(30 * page + 4))
        #expect(v.pageState == .secure)
        #expect(v.caller.kind == .hypervisor)
        #expect(t.hypervisor.registration(of: 0)?.vpa == nil)
    }

    @Test func dtlEntriesWrittenByTheHypervisorLandInSharedMemory() throws {
        let t = try TestMachine()
        t.makeSecure()
        // The guest shares its LPPACA page and DTL page, as Linux does on a secure guest.
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 2]).r3) == .success)
        try Self.prepare(t.boot, vpa: 30 * page, dtl: 31 * page)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(1), 0, 30 * page]).r3) == .success)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(2), 0, 31 * page]).r3) == .success)
        // KVM's init_vpa: yield_count = 1.
        #expect(try t.memory.readBigEndian(.guest(t.boot), at: .gpa(30 * page + 0x100), as: UInt32.self) == 1)
        t.boot.update { $0.pc = 0xC000_0000_0001_2340 }
        for _ in 0..<3 { try t.hypervisor.dispatch(vcpu: 0, on: t.machine, reason: .preempted(stolenNanoseconds: 2_000)) }
        // The guest reads them back from the shared page.
        let index = try t.memory.readBigEndian(.guest(t.boot), at: .gpa(30 * page + 0x218), as: UInt64.self)
        #expect(index == 3)
        var last: UInt64 = 0
        for i in 0..<3 {
            let bytes = try t.boot.read(at: .gpa(31 * page + UInt64(48 * i)), count: 48)
            let entry = try #require(DispatchTraceLogEntry(decoding: bytes))
            #expect(entry.dispatchReason == 7)
            #expect(entry.processorID == 0)
            #expect(entry.enqueueToDispatchTime == 1024, "2 µs at 512 MHz")
            #expect(entry.srr0 == 0xC000_0000_0001_2340)
            #expect(entry.srr1 == t.boot.msr.rawValue)
            #expect(entry.timebase > last)
            last = entry.timebase
        }
        #expect(try t.memory.readBigEndian(.guest(t.boot), at: .gpa(30 * page + 0x100), as: UInt32.self) == 7)
        #expect(try t.memory.readBigEndian(.guest(t.boot), at: .gpa(30 * page + 0x158), as: UInt64.self) == 3 * 1024)
        #expect(t.memory.violationCount == 0)
    }

    @Test func theDTLWraps() throws {
        let t = try TestMachine()
        try Self.prepare(t.boot, vpa: 30 * page, dtl: 31 * page, dtlBytes: 100)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(1), 0, 30 * page]).r3) == .success)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(2), 0, 31 * page]).r3) == .success)
        #expect(t.hypervisor.registration(of: 0)?.dtl?.length == 96, "rounded down to whole entries")
        for _ in 0..<3 { try t.hypervisor.dispatch(vcpu: 0, on: t.machine) }
        // Two slots: the third entry overwrote the first.
        let first = try #require(DispatchTraceLogEntry(decoding: try t.boot.read(at: .gpa(31 * page), count: 48)))
        let second = try #require(DispatchTraceLogEntry(decoding: try t.boot.read(at: .gpa(31 * page + 48), count: 48)))
        #expect(first.timebase > second.timebase)
    }

    @Test func dtlNotSharedIsCaughtAtDispatch() throws {
        let t = try TestMachine()
        t.makeSecure()
        #expect(UltravisorStatus(register: t.boot.ultracall(.sharePage, [30, 2]).r3) == .success)
        try Self.prepare(t.boot, vpa: 30 * page, dtl: 31 * page)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(1), 0, 30 * page]).r3) == .success)
        #expect(HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(2), 0, 31 * page]).r3) == .success)
        // The guest unshares the DTL page behind the hypervisor's back.
        #expect(UltravisorStatus(register: t.boot.ultracall(.unsharePage, [31, 1]).r3) == .success)
        // As on KVM the dispatch's DTL write pages the page out and lands in its
        // ciphertext (was: the write failed); the guest's next read of its DTL fails
        // authentication: UV_PAGE_IN answers U_P3 (core/svm_host.c: __handle_page_in).
        _ = try t.hypervisor.dispatch(vcpu: 0, on: t.machine)
        #expect(t.memory.violations.first?.purpose == "DTL of vcpu 0")
        #expect(t.memory.violations.first?.handling == .pageOut)
        #expect(throws: MemoryAccessError.self) { _ = try t.boot.read(at: .gpa(31 * page), count: 48) }
        #expect(t.machine.trace.records.contains { $0.name == "UV_PAGE_IN" && $0.statusName == "U_P3" })
    }

    @Test func registrationChecks() throws {
        let t = try TestMachine(cpus: 2)
        try Self.prepare(t.boot, vpa: 30 * page, dtl: 31 * page)
        func call(_ sub: UInt64, _ cpu: UInt64, _ address: UInt64) -> HypervisorStatus {
            HypervisorStatus(register: t.boot.hypercall(.registerVPA, [Self.flags(sub), cpu, address]).r3)
        }
        #expect(call(2, 0, 31 * page) == .resource, "DTL before VPA")
        #expect(call(1, 5, 30 * page) == .parameter, "no such vCPU")
        #expect(call(1, 0, 30 * page + 8) == .parameter, "not 128-byte aligned")
        #expect(call(4, 0, 30 * page) == .parameter, "no such sub-function")
        try t.boot.write(at: .gpa(32 * page + 4), bytes: [0x01, 0x00])
        #expect(call(1, 0, 32 * page) == .parameter, "VPA shorter than 640 bytes")
        try t.boot.write(at: .gpa(page - 128 + 4), bytes: [0x02, 0x80])
        #expect(call(1, 0, page - 128) == .parameter, "runs past the page")
        #expect(call(1, 1, 30 * page) == .success)
        #expect(call(2, 1, 31 * page) == .success)
        #expect(call(5, 1, 0) == .resource, "VPA deregistered while the DTL is registered")
        #expect(call(6, 1, 0) == .success)
        #expect(call(5, 1, 0) == .success)
        #expect(t.hypervisor.registration(of: 1)?.vpa == nil)
        #expect(t.hypervisor.registration(of: 1)?.dtl == nil)
    }
}
