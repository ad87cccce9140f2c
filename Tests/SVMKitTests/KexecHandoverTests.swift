@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import SVMKit

/// What the next kernel learns of the shares a kexec leaves: nothing. Linux hands a
/// crash kernel its `linux,usable-memory` and the crashkernel reservation, no record of
/// shares (`arch/powerpc/kexec/file_load_64.c: setup_new_fdt_ppc64`, 6.12), so the next
/// kernel's ledger starts empty; the observer in SVMKit reports what the Ultravisor
/// still holds shared. (Issue 20 item 2: the guest used to read the Ultravisor's page
/// table and reserve those pages itself.)
@Suite("kexec handover")
struct KexecHandoverTests {
    /// A booted secure guest with two pages of its own shared at `test_share`.
    static func sharedGuest() throws -> (SecureVirtualMachine, GuestKernel, [GuestFrameNumber]) {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 1 << 30
        c.cpuCount = 2
        c.commandLine = "svm=on swiotlb=512 console=hvc0"
        let vm = try SecureVirtualMachine(configuration: c)
        #expect(vm.boot().secure)
        let kernel = try #require(vm.kernel)
        let buffer = try kernel.allocateMemory(bytes: 2 * PageSize.bytes, purpose: "test")
        try kernel.setMemoryDecrypted(buffer, pageCount: 2, owner: .other, callSite: "test_share")
        let first = buffer.frame
        return (vm, kernel, [first, GuestFrameNumber(first.rawValue + 1)])
    }

    @Test("After a crash kexec the observer reports the shares the Ultravisor still holds; the next kernel's ledger starts empty")
    func crash() throws {
        let (vm, kernel, frames) = try Self.sharedGuest()
        let held = Set(vm.machine.memory.frames(where: \.isExplicitShare))
        #expect(frames.allSatisfy { held.contains($0) })
        let report = vm.kexec(.crash)
        #expect(vm.sharesLeftByKexec == held, "every explicit share is still held")
        #expect(report.kexec?.contains("UV_UNSHARE_ALL_PAGES skipped; after kexec (crash): \(held.count) explicit") == true, "\(report.kexec ?? "")")
        let next = try #require(vm.kernel)
        #expect(next !== kernel)
        #expect(frames.allSatisfy { vm.machine.memory.state(of: $0) == .shared }, "the Ultravisor still shares them")
        // The next kernel knows only what it shared itself.
        #expect(frames.allSatisfy { next.ledger.entries[$0] == nil })
        #expect(!next.ledger.entries.values.contains { $0.callSite == "test_share" })
        // What the loader does pass: the crashed kernel's memory to keep off (which holds
        // every page it shared), so the next kernel never hands one out as private.
        for f in frames {
            #expect(next.memblock?.region(containing: GuestPhysicalAddress(f.rawValue << PageSize.shift))?.purpose == GuestKernel.previousKernelPurpose)
        }
        #expect(!next.log.contains("previous kernel"), "the old guest read the page table and said so")
        // The observer's audit names them as the leaks the next kernel inherited, and
        // the invariants accept them (they are Linux's behaviour, not SVMKit's fault).
        #expect(frames.allSatisfy { next.audit().ledger.leaks.contains($0) })
        #expect(vm.invariantViolations().isEmpty, "\(vm.invariantViolations())")
    }

    @Test("After a normal kexec no share remains, and the next kernel's ledger holds only its own")
    func normal() throws {
        let (vm, _, frames) = try Self.sharedGuest()
        let report = vm.kexec(.normal)
        #expect(vm.sharesLeftByKexec.isEmpty)
        #expect(report.kexec?.contains("UV_UNSHARE_ALL_PAGES → U_SUCCESS") == true, "\(report.kexec ?? "")")
        #expect(frames.allSatisfy { vm.machine.memory.state(of: $0) == .secure })
        let next = try #require(vm.kernel)
        #expect(Set(vm.machine.memory.frames(where: \.isExplicitShare)) == Set(next.ledger.entries.keys))
        #expect(next.memblock?.reserved.contains { $0.purpose == GuestKernel.previousKernelPurpose } == false)
        #expect(next.audit().isClean)
        #expect(vm.invariantViolations().isEmpty, "\(vm.invariantViolations())")
    }
}
