import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SWIOTLB
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// A secure guest's runtime after prom_init (issue 6): shared LPPACAs, VPAs the
/// hypervisor can use, DTLs, the bounce pool, the IPI choice, sysfs.
@Suite("Secure guest boot")
struct SecureBootRuntimeTests {
    @Test(
        "One UV_SHARE_PAGE covers every LPPACA, and the hypervisor reads and writes every VPA",
        arguments: [1, 64, 128, 4096])
    func sharedLPPACAs(cpus: Int) throws {
        let t = try GuestTestMachine(memory: 512 << 20, cpus: cpus)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        #expect(report.secure)
        let region = try #require(report.sharedLPPACARegion)
        let pageBytes: UInt64 = 1 << 16
        // paca.c: alloc_shared_lppaca (6.12) sizes the region at the boot CPU's call in
        // early_setup(), while nr_cpu_ids is still NR_CPUS (2048): 2 MiB, or more CPUs'
        // worth when the machine has more. (This used to expect the running vCPU count.)
        let sized = UInt64(max(cpus, 2048))
        #expect(region.totalSize == (sized * 0x400 + pageBytes - 1) / pageBytes * pageBytes)
        #expect(region.base.isPageAligned)
        #expect(report.lppacas == (0..<cpus).map { GuestPhysicalAddress(region.base.rawValue + UInt64($0) * 0x400) })
        // Exactly one share call for the region, whatever the CPU count.
        let regionShares = t.records("UV_SHARE_PAGE").filter { $0.arguments.first == region.base.frame.rawValue }
        #expect(regionShares.count == 1)
        #expect(regionShares.first?.arguments.dropFirst().first == region.totalSize >> 16)
        #expect(report.shareCalls[.lppaca] == 1)
        // Every share call the trace saw is one the kernel counted, by owner.
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == report.shareCalls.values.reduce(0, +))
        #expect(report.vpaFailures.isEmpty && report.dtlFailures.isEmpty)
        // The hypervisor registered every VPA (reading its size) and wrote yield_count = 1.
        for cpu in 0..<cpus {
            let reg = try #require(t.hypervisor.registration(of: cpu))
            #expect(reg.vpa == report.lppacas[cpu])
            #expect(reg.dtl?.address == report.dispatchTraceLogs[cpu])
        }
        for cpu in Set([0, cpus / 2, cpus - 1]) {
            let yc = try t.memory.readBigEndian(
                .guest(t.machine.processors[cpu]), at: GuestPhysicalAddress(report.lppacas[cpu].rawValue + 0x100), as: UInt32.self)
            #expect(yc == 1)
        }
        // And it can keep writing them: a dispatch of every vCPU.
        for cpu in 0..<cpus { try t.hypervisor.dispatch(vcpu: cpu, on: t.machine) }
        #expect(t.memory.violationCount == 0)
        // DTL pages: one share per backing page, 16 DTLs per 64 KiB page.
        #expect(report.dtlSharedPages == (cpus + 15) / 16)
        #expect(report.shareCalls[.dtl] == (cpus + 15) / 16)
        #expect(kernel.audit("after boot").isClean)
        #expect(kernel.diagnose().isEmpty)
        #expect(kernel.ledger.countsByOwner[.lppaca] == Int(region.totalSize >> 16))
    }

    @Test("DTL entries the hypervisor writes are read back by the guest as stolen time")
    func dispatchTraceLog() throws {
        let t = try GuestTestMachine(cpus: 4)
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        for cpu in 0..<4 {
            for _ in 0..<3 {
                try t.hypervisor.dispatch(
                    vcpu: cpu, on: t.machine, reason: .preempted(stolenNanoseconds: 2_000 * UInt64(cpu + 1)))
            }
        }
        for cpu in 0..<4 {
            let scan = try kernel.scanDispatchLog(cpu: cpu)
            #expect(scan.entries.count == 3)
            #expect(scan.entries.allSatisfy { $0.processorID == UInt16(cpu) && $0.dispatchReason == 7 })
            #expect(scan.stolenTicks == 3 * 1024 * UInt64(cpu + 1), "2 µs at 512 MHz per unit")
            #expect(kernel.stolenTicks(cpu: cpu) == scan.stolenTicks)
            #expect(try kernel.scanDispatchLog(cpu: cpu).entries.isEmpty, "nothing new")
        }
        // More entries than the 85-entry buffer: the overwritten ones are skipped.
        for _ in 0..<100 { try t.hypervisor.dispatch(vcpu: 1, on: t.machine) }
        let scan = try kernel.scanDispatchLog(cpu: 1)
        #expect(scan.entries.count == GuestKernel.dispatchLogEntries)
        #expect(scan.skipped == 100 - GuestKernel.dispatchLogEntries)
        #expect(t.memory.violationCount == 0)
    }

    /// `arch/powerpc/mm/mem.c: mem_init (6.12)` calls `memblock_set_bottom_up(true)`
    /// before `swiotlb_init()`: the pool goes as low as it fits. This test used to
    /// expect it at the top of memory.
    @Test("The bounce pool is allocated bottom-up and shared in one call; DMA is forced through it")
    func bouncePool() throws {
        let t = try GuestTestMachine(memory: 1 << 30, cpus: 4, bootargs: "console=hvc0 swiotlb=force")
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        let pool = try #require(report.swiotlb)
        #expect(pool.bytes == 64 << 20, "the default 64 MiB")
        #expect(pool.slots == 32768)
        #expect(pool.areas == 4)
        #expect(pool.shared)
        // No free gap below the pool could have held it.
        let below = (kernel.memblock?.reserved ?? []).filter { $0.purpose != "swiotlb" && $0.start < pool.base }
            .sorted { $0.start < $1.start }
        var cursor: UInt64 = 0
        var largestGap: UInt64 = 0
        for r in below {
            if r.start.rawValue > cursor { largestGap = max(largestGap, r.start.rawValue - cursor) }
            cursor = max(cursor, r.end.rawValue)
        }
        #expect(largestGap < UInt64(pool.bytes), "bottom-up: the lowest range that fits")
        #expect(pool.base.rawValue < 512 << 20)
        #expect(report.shareCalls[.swiotlb] == 1)
        #expect(report.dmaForcedBounce)
        #expect(kernel.ledger.countsByOwner[.swiotlb] == 1024)
        #expect(kernel.log.contains("software IO TLB: mapped [mem"))
        #expect(kernel.sysfs.read("/sys/kernel/debug/swiotlb/io_tlb_nslabs") == "32768\n")
    }

    @Test("sysfs svm reads MSR(S) at every read; the log shows the IPI choice")
    func sysfsAndIPI() throws {
        let t = try GuestTestMachine(cpus: 2)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        #expect(report.sysfsSVM == "1\n")
        #expect(kernel.sysfs.read(SysfsView.svmPath) == "1\n")
        #expect(report.ipi.doorbells == false)
        #expect(report.ipi.controller == .xics)
        #expect(kernel.log.contains("smp: IPIs via XICS, no doorbells: secure guest under KVM"))
        #expect(kernel.log.contains("smp: Brought up 1 node, 2 CPUs"))
        // The file is read live: clear MSR(S) (not something a guest can do) and it follows.
        t.boot.update { $0.msr = $0.msr.subtracting(.secure) }
        #expect(kernel.sysfs.read(SysfsView.svmPath) == "0\n")
    }

    @Test("pSeries_smp_probe's doorbell choice")
    func ipiPolicy() {
        #expect(IPIChoice.probe(hypervisor: .kvm, xive: false, secure: true).doorbells == false)
        #expect(IPIChoice.probe(hypervisor: .kvm, xive: false, secure: false).doorbells == true)
        #expect(IPIChoice.probe(hypervisor: .kvm, xive: true, secure: false).doorbells == false)
        #expect(IPIChoice.probe(hypervisor: .kvm, xive: true, secure: true).controller == .xive)
        #expect(IPIChoice.probe(hypervisor: .powerVM, xive: false, secure: true).doorbells == true)
        // pSeries_smp_probe, pSeries_smp_probe_xics (5.4.301): no hypervisor test.
        #expect(IPIChoice.probe(hypervisor: .powerVM, xive: false, secure: true, linux: .v5_4).doorbells == false)
        #expect(IPIChoice.probe(hypervisor: .powerVM, xive: true, secure: false, linux: .v5_4).doorbells == false)
        #expect(IPIChoice.probe(hypervisor: .kvm, xive: false, secure: false, linux: .v5_4).doorbells == true)
        #expect(IPIChoice.probe(hypervisor: .powerVM, xive: false, secure: true, linux: .v5_10).doorbells == true)
    }

    @Test("The dispatch trace log entry layout round-trips")
    func dispatchTraceLogEntryRoundTrip() {
        let entry = DispatchTraceLogEntry(
            dispatchReason: 7, preemptReason: 1, processorID: 3, enqueueToDispatchTime: 99, readyToEnqueueTime: 1,
            timebase: 12345, srr0: 0xC000, srr1: 0x8000)
        let decoded = DispatchTraceLogEntry(decoding: entry.encoded)
        #expect(decoded?.processorID == 3)
        #expect(decoded?.stolenTicks == 100)
        #expect(decoded?.timebase == 12345)
    }

    @Test("Stopped secondaries are started with RTAS start-cpu; the Ultravisor makes them secure")
    func startCPU() throws {
        let t = try GuestTestMachine(cpus: 4)
        try t.makeSecure(startSecondaries: false)
        #expect(!t.machine.processors[1].isSecure)
        let (kernel, report) = try t.boot()
        #expect(t.machine.processors.allSatisfy { $0.isSecure && $0.snapshot.isRunning })
        let rtas = t.records("H_RTAS")
        #expect(rtas.filter { $0.caller.kind == .guest }.count == 3)
        // The Ultravisor bounced each through its implicitly shared RTAS pages.
        let bounced = rtas.filter { $0.caller.kind == .ultravisor }
        #expect(bounced.count == 3)
        #expect(bounced.allSatisfy { t.rtasBouncePages.contains($0.arguments.first ?? 0) })
        #expect(report.vpaFailures.isEmpty)
        #expect((1..<4).allSatisfy { t.hypervisor.registration(of: $0)?.vpa == report.lppacas[$0] })
        #expect(kernel.log.contains("smp: Brought up 1 node, 4 CPUs"))
        #expect(t.memory.violationCount == 0)
        #expect(kernel.audit("after boot").isClean)
    }

    /// `paca.c: alloc_shared_lppaca (6.12)` ignores `uv_share_page()`'s result and
    /// `lpar.c: vpa_init (6.12)` registers the VPA regardless. This test used to expect
    /// SVMKit to skip the registration; now the registration is made, as in Linux, the
    /// hypervisor reads a secure page, and the diagnosis names the ignored status.
    @Test("If the LPPACA share fails, Linux registers the VPA anyway; the diagnosis names the ignored status")
    func lppacaShareFails() throws {
        let t = try GuestTestMachine(cpus: 2)
        try t.makeSecure()
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(1),
                action: .partial(pages: 0, status: UltravisorStatus.p2.rawValue)))
        let (kernel, _) = try t.boot()
        let registrations = t.records("H_REGISTER_VPA").filter {
            $0.level == .sc1 && ($0.arguments.first ?? 0) >> 45 == 1
        }
        #expect(registrations.count == 2, "one VPA registration per online CPU")
        #expect(!kernel.log.contains("not registering"))
        #expect(kernel.diagnose().contains { $0.kind == .ignoredStatus && $0.owner == .lppaca })
        #expect(t.memory.violationCount > 0)
        #expect(kernel.audit("after boot").isClean)
        #expect(!kernel.audit("after boot").ledger.ignoredStatusMismatches.isEmpty)
    }

    @Test("A second start is refused; an unreadable device tree is named")
    func startErrors() throws {
        let t = try GuestTestMachine(cpus: 1)
        let (kernel, _) = try t.boot()
        #expect(throws: GuestKernelError.alreadyStarted) { try kernel.start(fdtAddress: GuestTestMachine.fdtAddress) }
        let other = GuestKernel(machine: t.machine)
        #expect {
            try other.start(fdtAddress: GuestPhysicalAddress(0x300_0000), kernelBase: GuestTestMachine.kernelBase)
        } throws: { error in
            guard case .deviceTree(let address, _) = error as? GuestKernelError else { return false }
            return address == GuestPhysicalAddress(0x300_0000)
        }
        #expect(other.phase != .running)
    }
}
