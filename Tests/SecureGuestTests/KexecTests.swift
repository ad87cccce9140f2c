import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// kexec of a secure guest (reference/linux-guest-facts.md §1.7).
@Suite("kexec")
struct KexecTests {
    /// A secure guest that booted and did some block I/O.
    static func busyGuest() throws -> (GuestTestMachine, GuestKernel, GuestBootReport) {
        let t = try GuestTestMachine(cpus: 4, bootargs: "swiotlb=2048,force", diskSectors: 8192)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 1 << 20)
        try t.boot.write(at: buffer, bytes: pattern(1 << 20, seed: 1))
        try disk.write(sector: 0, from: buffer, byteCount: 1 << 20)
        return (t, kernel, report)
    }

    @Test("A normal kexec unshares every explicit share, keeps the implicit ones, and the next kernel shares again")
    func normal() throws {
        let (t, kernel, _) = try Self.busyGuest()
        let before = kernel.audit("before kexec")
        #expect(before.isClean)
        #expect(before.explicitlyShared > 0)
        #expect(before.implicitlyShared == 7, "6 RTAS bounce pages and the TPM bounce page")
        #expect(before.pseudoShared == 1)

        let report = try kernel.kexec(.normal)
        let audit = kernel.audit("after kexec (normal)")
        #expect(report.unshareAllStatus == .success)
        #expect(t.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES") == 1)
        #expect(kernel.log.contains("kexec: Unshared all shared pages."))
        #expect(audit.explicitlyShared == 0)
        #expect(audit.implicitlyShared == 7)
        #expect(audit.pseudoShared == 1)
        #expect(audit.isClean, "\(audit)")
        #expect(kernel.ledger.entries.isEmpty)
        #expect(report.processorsTakenDown == 4)
        #expect((0..<4).allSatisfy { t.hypervisor.registration(of: $0)?.vpa == nil })
        #expect(t.disk?.queueAddress == nil, "device_shutdown reset the device")
        #expect(kernel.phase == .kexeced(.normal))
        #expect(throws: GuestKernelError.self) { try kernel.kexec(.normal) }

        // The next kernel: MSR(S) still set, shares its own structures again.
        #expect(t.machine.processors.allSatisfy { $0.isSecure })
        let shares = t.machine.trace.count(of: "UV_SHARE_PAGE")
        let (next, nextReport) = try t.boot()
        #expect(nextReport.secure)
        #expect(nextReport.shareCalls[.lppaca] == 1)
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == shares + nextReport.shareCalls.values.reduce(0, +))
        #expect(next.audit("after boot").isClean)
        #expect(nextReport.vpaFailures.isEmpty)
        for cpu in 0..<4 { try t.hypervisor.dispatch(vcpu: cpu, on: t.machine) }
        #expect(t.memory.violationCount == 0)
        #expect(next.sysfs.read(SysfsView.svmPath) == "1\n")
    }

    @Test("A crash kexec leaves the shares in place; the next kernel is told nothing, the observer's audit names them")
    func crash() throws {
        let (t, kernel, _) = try Self.busyGuest()
        let queue = try #require(t.disk?.queueAddress)
        let shared = kernel.audit().explicitlyShared
        let report = try kernel.kexec(.crash)
        let audit = kernel.audit("after kexec (crash)")
        #expect(report.unshareAllStatus == nil)
        #expect(t.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES") == 0)
        #expect(!kernel.log.contains("Unshared all shared pages"))
        #expect(audit.explicitlyShared == shared)
        #expect(audit.isClean, "the crashed kernel's ledger still matches: \(audit)")
        // pseries/kexec.c: pseries_kexec_cpu_down (6.12) runs for a crash too ("Ensure
        // vpa/slb_shadow/dtl cleanup even while we are crashing"); this test used to
        // expect no hypervisor call (audit row 5.3, outdated).
        #expect(report.processorsTakenDown == 4)
        #expect(t.hypervisor.registration(of: 0)?.vpa == nil)
        let slb = t.records("H_REGISTER_VPA").filter { $0.level == .sc1 && ($0.arguments.first ?? 0) >> 45 == 7 }
        #expect(slb.count == 4, "H_VPA_DEREG_SLB on every CPU")
        // The crash kernel boots over the same layout and re-shares what it uses.
        // arch/powerpc/kexec/file_load_64.c: setup_new_fdt_ppc64 (6.12) passes no record
        // of shares: the next kernel's ledger holds only what it shares itself.
        let (nextKernel, _) = try t.boot()
        #expect(!nextKernel.log.contains("still shared"))
        let next = nextKernel.audit("after boot")
        #expect(next.leaks == [GuestPhysicalAddress(queue).frame], "the old block queue page: \(next)")
        #expect(next.losses.isEmpty)
        #expect(t.memory.violationCount == 0)
    }

    @Test("A preserve-context kexec skips UV_UNSHARE_ALL_PAGES")
    func preserveContext() throws {
        let (t, kernel, _) = try Self.busyGuest()
        let report = try kernel.kexec(.preserveContext)
        let audit = kernel.audit("after kexec (preserve-context)")
        #expect(report.unshareAllStatus == nil)
        #expect(audit.explicitlyShared > 0)
        #expect(audit.isClean)
        #expect(t.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES") == 0)
    }

    @Test("A normal kexec of a normal guest makes no ultracall")
    func normalGuest() throws {
        let t = try GuestTestMachine(cpus: 2)
        let (kernel, _) = try t.boot()
        let report = try kernel.kexec(.normal)
        #expect(report.unshareAllStatus == nil)
        #expect(t.ultracallCount == 0)
    }
}

extension SharedPageAuditReport {
    var leaks: [GuestFrameNumber] { ledger.leaks }
    var losses: [SharedPageAudit.Loss] { ledger.losses }
}
