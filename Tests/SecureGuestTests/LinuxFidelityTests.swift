import DeviceTree
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SWIOTLB
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// Issue 15 item 6: the guest does what Linux 6.12 does, in Linux's order, with
/// Linux's log lines; each test names the function it follows.
@Suite("The guest behaves as Linux 6.12 does")
struct LinuxFidelityTests {
    /// The guest's own `UV_SHARE_PAGE` calls, in order, as (first frame, pages).
    static func guestShares(_ t: GuestTestMachine) -> [(UInt64, UInt64)] {
        t.records("UV_SHARE_PAGE").filter { $0.caller.kind == .guest }.map {
            ($0.arguments.first ?? 0, $0.arguments.dropFirst().first ?? 0)
        }
    }

    /// `arch/powerpc/platforms/pseries/Makefile` (6.12) links setup.o before svm.o, so
    /// the `machine_early_initcall` `alloc_dispatch_log_kmem_cache()` (whose
    /// `dtl_cache_ctor()` shares the DTL page) runs before `init_svm()` (the pool). The
    /// LPPACA region comes first, from `early_setup()`. SVMKit used to share the pool
    /// before the DTL (audit row 3.8).
    @Test("Shares in link order: LPPACA region, DTL page, then the SWIOTLB pool")
    func linkOrder() throws {
        let t = try GuestTestMachine(cpus: 2, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        let shares = Self.guestShares(t)
        let lppaca = try #require(report.sharedLPPACARegion)
        let dtl = try #require(kernel.dispatchTraceLogAddresses.first ?? nil)
        let pool = try #require(report.swiotlb)
        #expect(shares.map(\.0) == [lppaca.base.frame.rawValue, dtl.frame.rawValue, pool.base.frame.rawValue])
        #expect(shares.map(\.1) == [lppaca.totalSize >> 16, 1, UInt64(pool.bytes) >> 16])
    }

    /// `svm.c: dtl_cache_ctor (6.12)` stores the page in `dtl_page_store` before
    /// `uv_share_page()` and ignores its result, so the other 15 objects of the slab
    /// never share it again; `lpar.c: register_dtl_buffer (6.12)` registers anyway.
    /// SVMKit used to retry on every object and skip the registration (audit rows 3.5,
    /// 3.6, 3.7).
    @Test("A failed DTL share is never retried, and the DTLs are registered anyway")
    func dtlNeverRetried() throws {
        let t = try GuestTestMachine(cpus: 2)
        try t.makeSecure()
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(2),
                action: .status(UltravisorStatus.p2.rawValue)))
        let (kernel, _) = try t.boot()
        let dtl = try #require(kernel.dispatchTraceLogAddresses.first ?? nil)
        #expect(Self.guestShares(t).filter { $0.0 == dtl.frame.rawValue }.count == 1, "one call for the slab page")
        #expect(kernel.dispatchLogSharedPages == [dtl.frame])
        let dtlRegistrations = t.records("H_REGISTER_VPA").filter {
            $0.level == .sc1 && $0.caller.kind == .guest && ($0.arguments.first ?? 0) >> 45 == 2
        }
        #expect(dtlRegistrations.count == 2, "boot CPU and secondary")
        #expect(!kernel.log.contains("not registering"))
        #expect(kernel.diagnose().contains { $0.kind == .ignoredStatus && $0.owner == .dtl })
    }

    /// `NR_DTL_PAGE` = `DISPATCH_LOG_BYTES × CONFIG_NR_CPUS / PAGE_SIZE`: 1 for 16
    /// CPUs, so the first stored page already trips `WARN_ON(dtl_nr_pages >=
    /// NR_DTL_PAGE)` and the second overflows the array.
    @Test("dtl_cache_ctor WARNs at NR_DTL_PAGE and SVMKit names the overflow")
    func nrDTLPageWarning() throws {
        let t = try GuestTestMachine(cpus: 17)
        try t.makeSecure()
        let (kernel, _) = try t.boot(GuestKernelOptions(nrCPUs: 16))
        let warn = "WARNING: CPU: 0 PID: 1 at arch/powerpc/platforms/pseries/svm.c:92 dtl_cache_ctor"
        #expect(kernel.log.lines.filter { $0.message == warn }.count == 2)
        #expect(kernel.log.contains("dtl_page_store holds NR_DTL_PAGE = 1 pages; page 2 is written past its end"))
        let quiet = try GuestTestMachine(cpus: 17)
        try quiet.makeSecure()
        let (k2, _) = try quiet.boot()
        #expect(!k2.log.contains("WARNING: CPU"), "NR_CPUS 2048: 128 pages, no warning")
    }

    /// `setup-common.c: smp_setup_cpu_maps (6.12)`: possible CPUs run up to the
    /// `ibm,lrdr-capacity` maximum (QEMU's `maxcpus`); `alloc_dtl_buffers()` runs
    /// `for_each_possible_cpu` and `swiotlb_adjust_nareas(num_possible_cpus())` sizes
    /// the areas. SVMKit used the running vCPU count (audit rows 1.8, 3.1).
    @Test("Possible CPUs come from ibm,lrdr-capacity: DTLs and SWIOTLB areas follow them")
    func possibleCPUs() throws {
        let t = try GuestTestMachine(cpus: 2, bootargs: "console=hvc0 swiotlb=force")
        let fdt = GuestTestMachine.fdtAddress
        var tree = try #require(PromInit.readDeviceTree(vcpu: t.boot, at: fdt))
        var cells = try tree.cells("ibm,lrdr-capacity", at: "/rtas")
        cells[cells.count - 1] = 8  // maxcpus 8, 1 thread per core
        try tree.setProperty("ibm,lrdr-capacity", BigEndianCells.bytes(cells: cells), at: "/rtas")
        try tree.pack()
        try t.boot.write(at: fdt, bytes: tree.bytes)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        #expect(kernel.possibleCPUs == 8)
        #expect(kernel.log.contains("Partition configured for 8 cpus."))
        #expect(kernel.dispatchTraceLogAddresses.compactMap { $0 }.count == 8)
        #expect(report.lppacas.count == 8)
        #expect(report.swiotlb?.areas == 8)
        #expect(kernel.log.contains("smp: Brought up 1 node, 2 CPUs"))
    }

    /// `pseries/kexec.c: pseries_kexec_cpu_down (6.12)`: on every online CPU, DTL (if
    /// `dtl_enable_mask`), SLB shadow, VPA, each failure with Linux's WARNING line.
    @Test("pseries_kexec_cpu_down prints Linux's WARNING lines for each refused deregistration")
    func kexecWarnings() throws {
        let t = try GuestTestMachine(cpus: 2)
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        t.machine.faults.add(
            FaultRule(
                opcode: .hypercall(.registerVPA), caller: .guest, trigger: .every,
                action: .status(HypervisorStatus.parameter.rawValue)))
        _ = try kernel.kexec(.normal)
        let lines = kernel.log.lines.map(\.message).filter { $0.hasPrefix("WARNING:") }
        #expect(lines == [
            "WARNING: DTL deregistration for cpu 1 (hw 1) failed with -4",
            "WARNING: SLB shadow buffer deregistration for cpu 1 (hw 1) failed with -4",
            "WARNING: VPA deregistration for cpu 1 (hw 1) failed with -4",
            "WARNING: DTL deregistration for cpu 0 (hw 0) failed with -4",
            "WARNING: SLB shadow buffer deregistration for cpu 0 (hw 0) failed with -4",
            "WARNING: VPA deregistration for cpu 0 (hw 0) failed with -4",
        ])
        #expect(kernel.log.contains("kexec: Starting switchover sequence."))
    }

    /// `kernel/dma/swiotlb.c: swiotlb_tbl_map_single (6.12)` prints the
    /// `pr_warn_once()` before the slot search, so a first mapping that fails prints
    /// it too. SVMKit used to print it after the first successful map (audit row 4.12).
    @Test("'Memory encryption is active' is printed before the slot search, once")
    func memoryEncryptionLine() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, _) = try t.boot()
        let buffer = try kernel.allocateMemory(bytes: 1 << 20)
        #expect(throws: DMAError.self) {
            _ = try kernel.dmaMapSingle(buffer, size: 1 << 20, direction: .toDevice)
        }
        let line = "Memory encryption is active and system is using DMA bounce buffers"
        #expect(kernel.log.lines.filter { $0.message == line }.count == 1)
        let bounce = try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice)
        try kernel.dmaUnmapSingle(bounce, size: 4096, direction: .toDevice)
        #expect(kernel.log.lines.filter { $0.message == line }.count == 1)
    }
}
