import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI
import SWIOTLB
import Testing

@testable import SecureGuest
import PEFTestSupport

/// The kernel profiles of issue 17: what each series does differently for a secure
/// guest, asserted on the boot trace and the kernel log (`LinuxVersion`'s doc cites
/// the code for each).
@Suite("Linux profiles: 5.4, 5.10, 6.1 and 6.12 as each series boots a secure guest")
struct LinuxVersionProfileTests {
    /// A secure guest of `linux` booted with `bootargs`, with a 1 MiB disk.
    static func boot(_ linux: LinuxVersion, bootargs: String, dmaPath: DMAPath = .ddwBypass) throws -> (
        GuestTestMachine, GuestKernel, GuestBootReport
    ) {
        let t = try GuestTestMachine(cpus: 2, bootargs: bootargs, diskSectors: 2048)
        try t.makeSecure()
        var options = GuestKernelOptions()
        options.linux = linux
        options.dmaPath = dmaPath
        let (kernel, report) = try t.boot(options)
        return (t, kernel, report)
    }

    /// The `UV_SHARE_PAGE` calls' owners in order, from the ledger's call sites.
    static func shareSites(_ kernel: GuestKernel) -> [String] {
        kernel.ledger.entries.values.map(\.callSite).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            .sorted()
    }

    /// Writes `count` bytes of a pattern through the disk; what the disk holds afterwards.
    static func writeThroughDisk(_ t: GuestTestMachine, _ kernel: GuestKernel, count: Int = 8192) throws -> (
        written: [UInt8], onDisk: [UInt8]
    ) {
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: UInt64(count), purpose: "profile test buffer")
        let data = pattern(count, seed: 17)
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 0, from: buffer, byteCount: count)
        return (data, t.disk?.contents(sector: 0, byteCount: count) ?? [])
    }

    @Test(
        "6.1 and 6.12 without swiotlb=force: no pool, no UV_SHARE_PAGE for it, \"No low mem\", the disk gets ciphertext",
        arguments: [LinuxVersion.v6_1, .v6_12])
    func noPoolOnSixX(linux: LinuxVersion) throws {
        let (t, kernel, report) = try Self.boot(linux, bootargs: "svm=on console=hvc0")
        #expect(report.swiotlb == nil)
        #expect(!report.dmaForcedBounce)
        #expect(report.shareCalls[.swiotlb] == nil)
        #expect(t.records("UV_SHARE_PAGE").count == 2, "LPPACA region and DTL page only")
        #expect(!Self.shareSites(kernel).contains("swiotlb_update_mem_attributes"))
        // kernel/dma/swiotlb.c: swiotlb_print_info (6.12), pr_fmt "software IO TLB: ".
        #expect(kernel.log.contains("software IO TLB: No low mem"))
        #expect(!kernel.log.contains("software IO TLB: mapped"))
        let (written, onDisk) = try Self.writeThroughDisk(t, kernel)
        #expect(onDisk != written, "the hypervisor's DMA paged the secure buffer out: ciphertext on the disk")
        #expect(t.memory.violationCount == 1)
        #expect(kernel.dmaStatistics.bouncedMappings == 0)
        #expect(!kernel.log.contains("Memory encryption is active"))
    }

    @Test(
        "5.4 and 5.10 without swiotlb=force: the pool exists, is shared in one call and forced; the data arrive intact",
        arguments: [LinuxVersion.v5_4, .v5_10])
    func poolOnFiveX(linux: LinuxVersion) throws {
        let (t, kernel, report) = try Self.boot(linux, bootargs: "svm=on console=hvc0")
        let pool = try #require(report.swiotlb)
        #expect(pool.shared)
        #expect(report.dmaForcedBounce)
        #expect(report.shareCalls[.swiotlb] == 1)
        #expect(t.records("UV_SHARE_PAGE").count == 3)
        #expect(kernel.log.contains("software IO TLB: mapped"))
        #expect(!kernel.log.contains("No low mem"))
        #expect(pool.areas == 1, "one global lock before 6.0")
        // swiotlb_print_info: %#010llx in 5.4.301, %pa in 5.10.265; no "area num" before 6.0.
        let line = try #require(kernel.log.lines.first { $0.message.contains("software IO TLB: mapped") }?.message)
        let start = line.split(separator: "[mem ").last?.split(separator: "-").first ?? ""
        #expect(start.count == (linux == .v5_4 ? 10 : 18), "\(line)")
        #expect(!kernel.log.contains("area num"))
        let (written, onDisk) = try Self.writeThroughDisk(t, kernel)
        #expect(onDisk == written)
        #expect(t.memory.violationCount == 0)
        #expect(kernel.log.contains("Memory encryption is active and system is using DMA bounce buffers"))
    }

    @Test("With swiotlb=force every series has a shared, forced pool and the data arrive intact", arguments: LinuxVersion.allCases)
    func forceWorksEverywhere(linux: LinuxVersion) throws {
        let (t, kernel, report) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0")
        #expect(report.swiotlb?.shared == true)
        #expect(report.dmaForcedBounce)
        #expect(report.shareCalls[.swiotlb] == 1)
        let (written, onDisk) = try Self.writeThroughDisk(t, kernel)
        #expect(onDisk == written)
        #expect(t.memory.violationCount == 0)
        // 6.x: areas per possible CPU (2 → 2); 5.x: one.
        #expect(report.swiotlb?.areas == (linux.swiotlbAreas ? 2 : 1))
    }

    /// The trace order of the shares: LPPACA region, DTL page, then the pool where there
    /// is one (`init_svm()` runs after setup.o's initcall).
    @Test("Trace: UV_SHARE_PAGE sequence per series", arguments: LinuxVersion.allCases)
    func shareSequence(linux: LinuxVersion) throws {
        let (t, kernel, _) = try Self.boot(linux, bootargs: "svm=on console=hvc0")
        let shares = t.records("UV_SHARE_PAGE").filter { $0.caller.kind == .guest }.map { $0.arguments.first ?? 0 }
        let owners = shares.map { gfn in kernel.ledger.entries[GuestFrameNumber(rawValue: gfn)]?.owner }
        let expected: [SharedPageOwner?] =
            linux.secureGuestPoolWithoutForce ? [.lppaca, .dtl, .swiotlb] : [.lppaca, .dtl]
        #expect(owners == expected)
    }

    /// `iommu_init_early_pSeries()` sets `dma_iommu_ops` with no `is_secure_guest()` test
    /// in 5.4.301 too (the 2019 skip is not in 5.4.y), so 5.4's TCE-mapped disk gets the
    /// secure page itself, as every later series does.
    @Test("A TCE-mapped disk never bounces in any series, even with swiotlb=force: the disk gets ciphertext")
    func tcePath() throws {
        for linux in LinuxVersion.allCases {
            let (t, kernel, _) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0", dmaPath: .tce)
            let (written, onDisk) = try Self.writeThroughDisk(t, kernel)
            #expect(onDisk != written, "\(linux)")
            #expect(kernel.dmaStatistics.bouncedMappings == 0, "\(linux)")
        }
    }

    /// `kernel/dma/swiotlb.c: swiotlb_tbl_map_single (5.4.301)` has no `min_align_mask`:
    /// the bounce address starts at its slot; 5.10.y (backport) and later keep the
    /// buffer's low bits under the mask (`swiotlb_align_offset (5.10.265)`).
    @Test("min_align_mask: 5.4 drops it (bounce address at a slot start), 5.10 and later keep the offset", arguments: LinuxVersion.allCases)
    func minAlignMask(linux: LinuxVersion) throws {
        let (t, kernel, _) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0")
        let buffer = try kernel.allocateMemory(bytes: 8192, purpose: "min_align_mask test buffer")
        let original = GuestPhysicalAddress(rawValue: buffer.rawValue + 0x234)
        try t.boot.write(at: original, bytes: pattern(100, seed: 3))
        let bounce = try kernel.dmaMapSingle(
            original, size: 100, direction: .toDevice, device: DMADevice(minAlignMask: 0xfff))
        #expect(bounce & 0x7ff == (linux.honoursMinAlignMask ? 0x234 : 0), "\(linux)")
        #expect(linux.honoursMinAlignMask == (linux != .v5_4))
        // swiotlb_max_mapping_size: 256 KiB in 5.4.301, less the mask rounded up to a slot after.
        #expect(kernel.dmaMaxMappingSize(device: DMADevice(minAlignMask: 0xfff)) == (linux == .v5_4 ? 256 << 10 : 252 << 10))
        try kernel.dmaUnmapSingle(bounce, size: 100, direction: .toDevice)
    }

    /// `paca.c: alloc_shared_lppaca`: `BUG_ON(size > total)` in every series (5.4.y took
    /// the 2020 fix of the `>=` off-by-one: `alloc_shared_lppaca (5.4.301)` tests `>`).
    @Test("LPPACA region check: the last LPPACA may exactly fill the region, one more overflows; every series boots a full region")
    func lppacaOffByOne() throws {
        var region = SharedLPPACARegion(base: GuestPhysicalAddress(0x100_0000), cpuCount: 64)
        for _ in 0..<63 { _ = try region.next() }
        #expect(try region.next() == GuestPhysicalAddress(0x100_0000 + 63 * 0x400))
        #expect(throws: SharedLPPACARegion.OverflowError.self) { try region.next() }
        for linux in LinuxVersion.allCases {
            #expect(try Self.bootFull(linux, nrCPUs: 64, cpus: 64) == nil, "\(linux): a full region is no BUG")
        }
    }

    /// Boots a secure guest whose region is exactly full; the error, if any.
    static func bootFull(_ linux: LinuxVersion, nrCPUs: Int, cpus: Int) throws -> GuestKernelError? {
        let t = try GuestTestMachine(memory: 1 << 30, cpus: cpus, bootargs: "svm=on swiotlb=force console=hvc0")
        try t.makeSecure(startSecondaries: false)
        var options = GuestKernelOptions(nrCPUs: nrCPUs)
        options.linux = linux
        let kernel = GuestKernel(machine: t.machine, options: options)
        do {
            _ = try kernel.start(
                processors: [t.boot], fdtAddress: GuestTestMachine.fdtAddress, kernelBase: GuestTestMachine.kernelBase)
            return nil
        } catch {
            return error
        }
    }

    /// `swiotlb=` before 6.0 has no area count (`setup_io_tlb_npages (5.4, 5.10)`).
    @Test("swiotlb= grammar: <slabs>[,<areas>][,force] since 6.0, <slabs>[,force] before")
    func grammar() {
        let modern = SWIOTLBOption(KernelCommandLine("swiotlb=65536,4,force"))
        #expect(modern.slabs == 65536 && modern.areas == 4 && modern.forceMode == .force)
        let old = SWIOTLBOption(KernelCommandLine("swiotlb=65536,4,force"), areas: false)
        #expect(old.slabs == 65536 && old.areas == nil && old.forceMode == nil)
        #expect(old.diagnostics.contains { $0.description.contains("not understood") })
        let oldForce = SWIOTLBOption(KernelCommandLine("swiotlb=65536,force"), areas: false)
        #expect(oldForce.forceMode == .force)
        // setup_io_tlb_npages (5.4.301, 5.10.265): one swiotlb_force, the last word wins;
        // noforce sets io_tlb_nslabs = 1; 0 slots is the default. 6.x: sticky flags.
        let line = KernelCommandLine("swiotlb=noforce swiotlb=force")
        #expect(SWIOTLBOption(line).forceMode == .noforce)
        let oldLast = SWIOTLBOption(line, areas: false)
        #expect(oldLast.forceMode == .force && oldLast.slabs == 1)
        let oldNoforce = SWIOTLBOption(KernelCommandLine("swiotlb=force swiotlb=65536,noforce"), areas: false)
        #expect(oldNoforce.forceMode == .noforce && oldNoforce.slabs == 1)
        #expect(SWIOTLBOption(KernelCommandLine("swiotlb=0"), areas: false).slabs == nil)
    }

    /// A 2 GiB pool in a smaller guest: `swiotlb_init_remap (6.1, 6.12)` halves it until
    /// it fits; `swiotlb_init (5.4.301)` tries once and warns; `svm_swiotlb_init
    /// (5.10.265)` tries once and panics.
    @Test("A pool that does not fit: 6.x halves it, 5.4 warns and has none, 5.10's svm_swiotlb_init() panics", arguments: LinuxVersion.allCases)
    func poolTooBig(linux: LinuxVersion) throws {
        let bootargs = "svm=on swiotlb=1048576,force console=hvc0"
        guard linux != .v5_10 else {
            #expect(throws: GuestKernelError.self) { try Self.boot(linux, bootargs: bootargs) }
            return
        }
        let (_, kernel, report) = try Self.boot(linux, bootargs: bootargs)
        if linux.swiotlbInitRetriesSmaller {
            let pool = try #require(report.swiotlb)
            #expect(pool.slots < 1_048_576 && kernel.log.contains("SWIOTLB bounce buffer size adjusted"))
        } else {
            #expect(report.swiotlb == nil)
            #expect(kernel.log.contains("software IO TLB: Cannot allocate buffer"))
            // init_svm() forced bouncing anyway: the first map panics (no_iotlb_memory).
            let buffer = try kernel.allocateMemory(bytes: 4096, purpose: "panic test buffer")
            #expect(throws: DMAError.self) { try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice) }
            #expect(kernel.log.contains("Kernel panic - not syncing: Can not allocate SWIOTLB buffer earlier"))
            #expect(throws: DMAError.kernelNotRunning) { try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice) }
        }
    }

    /// `swiotlb=force` on a guest whose memory below 4 GiB is all reserved: no pool.
    /// 6.12 latched `force_bounce` before allocating (`swiotlb_init_remap (6.12)`) and
    /// 5.x parsed `swiotlb_force` (`setup_io_tlb_npages (5.4.301, 5.10.265)`), so a map
    /// fails (6.12: the rate-limited warning, `DMA_MAPPING_ERROR`; 5.x: the panic); 6.1
    /// sets `force_bounce` only with a pool (`swiotlb_init_io_tlb_mem (6.1)`), so the map
    /// goes to the buffer. Before, every series mapped directly.
    @Test("swiotlb=force with no pool: 6.12 fails the map with its warning, 5.x panics, 6.1 maps directly", arguments: LinuxVersion.allCases)
    func forcedWithoutPool(linux: LinuxVersion) throws {
        let t = try GuestTestMachine(memory: (4 << 30) + (512 << 20), cpus: 1, bootargs: "swiotlb=force console=hvc0")
        var options = GuestKernelOptions()
        options.linux = linux
        options.kexecReservations = [Memblock.Region(start: GuestPhysicalAddress(0), size: 4 << 30, purpose: "test")]
        let (kernel, report) = try t.boot(options)
        #expect(report.swiotlb == nil && kernel.swiotlbPool == nil)
        // 6.x: swiotlb_memblock_alloc() warns at each try, 64 MiB down to 1 MiB (7 lines);
        // 5.x's swiotlb_init() tries once and says "Cannot allocate buffer".
        let tries = kernel.log.lines.filter { $0.message.hasPrefix("software IO TLB: swiotlb_memblock_alloc: Failed to allocate ") }
        if linux.swiotlbAreas {
            #expect(tries.map(\.message).first?.hasSuffix(" 67108864 bytes tlb structure") == true)
            #expect(tries.map(\.message).last?.hasSuffix(" 1048576 bytes tlb structure") == true)
            #expect(tries.count == 7 && !kernel.log.contains("Cannot allocate buffer"))
        } else {
            #expect(tries.isEmpty && kernel.log.contains("software IO TLB: Cannot allocate buffer"))
        }
        let buffer = try kernel.allocateMemory(bytes: 4096, purpose: "forced map without a pool")
        let warning = "Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer"
        switch linux {
        case .v6_1:
            #expect(try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice) == buffer.rawValue)
            #expect(!kernel.log.contains(warning))
        case .v6_12:
            #expect(throws: DMAError.noBouncePool(reason: warning)) {
                try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice)
            }
            #expect(kernel.log.lines.contains { $0.message == warning })
            #expect(kernel.phase == .running)
        case .v5_4, .v5_10:
            #expect(throws: DMAError.self) { try kernel.dmaMapSingle(buffer, size: 4096, direction: .toDevice) }
            #expect(kernel.log.contains("Kernel panic - not syncing: \(warning)"))
            #expect(kernel.phase != .running)
        }
    }

    /// 5.x: `swiotlb=noforce` only sets `io_tlb_nslabs = 1`; the secure guest's pool is
    /// still made (5.10 `svm_swiotlb_init()` aligns it to 128 slots) and `init_svm()`
    /// forces bouncing over the `SWIOTLB_NO_FORCE` (`svm.c: init_svm (5.10.265)`).
    @Test("5.x with swiotlb=noforce: the secure guest still gets a forced, shared pool of one segment", arguments: [LinuxVersion.v5_4, .v5_10])
    func noforceOnFiveX(linux: LinuxVersion) throws {
        let (t, kernel, report) = try Self.boot(linux, bootargs: "svm=on swiotlb=noforce console=hvc0")
        let pool = try #require(report.swiotlb)
        #expect(pool.slots == 128)
        #expect(pool.shared && report.dmaForcedBounce)
        #expect(kernel.log.contains("1-slot pool") == (linux == .v5_4))
        let (written, onDisk) = try Self.writeThroughDisk(t, kernel)
        #expect(onDisk == written)
    }

    /// `LinuxVersion.swiotlbAllocator`: 6.1 and 5.x run 6.1's own search
    /// (`kernel/dma/swiotlb.c: swiotlb_do_find_slots (6.1)`; 5.x checked against recorded
    /// 5.4.301 and 5.10.265 answers in LinuxOracleTests); 6.12 the fast allocator with
    /// 6.12's guarantees.
    @Test("the pool runs 6.1's search on 6.1, 5.10 and 5.4, the fast allocator on 6.12", arguments: LinuxVersion.allCases)
    func poolSearch(linux: LinuxVersion) throws {
        let (_, kernel, _) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0")
        let pool = try #require(kernel.swiotlbPool)
        #expect(pool.allocator == (linux == .v6_12 ? .fast : .linux61))
    }

    /// The stream on which 6.1's `swiotlb_do_find_slots()` never returns, mapped through
    /// the 6.1 guest's `dma_map_single()`: the kernel hangs (no clean failure) and says
    /// where, with the request and the fix; 6.12 fails the same map cleanly.
    @Test("6.1's endless slot search hangs the guest, reported with the request and the fix; 6.12 fails cleanly")
    func scanHang() throws {
        for linux in [LinuxVersion.v6_1, .v6_12] {
            let (_, kernel, _) = try Self.boot(linux, bootargs: "svm=on swiotlb=128,1,force console=hvc0")
            let pool = try #require(kernel.swiotlbPool)
            #expect(pool.slotCount == 128 && pool.areaCount == 1)
            let scenario = SWIOTLBReplayScenario.linux61ScanHang(
                pool: SWIOTLBReplayPool(start: pool.region.base, nslabs: pool.slotCount))
            var live: [UInt64: UInt64] = [:]
            var last: DMAError?
            for op in scenario.ops {
                switch op {
                case .map(let m):
                    do {
                        live[m.id] = try kernel.dmaMapSingle(
                            GuestPhysicalAddress(m.origAddr), size: m.size, direction: .toDevice, device: m.device)
                    } catch { last = error }
                case .unmap(let id):
                    let address = live.removeValue(forKey: id)
                    try kernel.dmaUnmapSingle(try #require(address), size: 2048, direction: .toDevice)
                }
            }
            guard case .swiotlb(let error) = try #require(last) else {
                Issue.record("\(linux): \(String(describing: last))")
                continue
            }
            if linux == .v6_1 {
                guard case .scanHung(let hang) = error else {
                    Issue.record("6.1: expected a hang, got \(error)")
                    continue
                }
                #expect(hang.size == 4096 && hang.minAlignMask == 0xfff && hang.area == 0)
                #expect(kernel.swiotlbHang == hang)
                guard case .hung(let why) = kernel.phase else {
                    Issue.record("6.1: phase \(kernel.phase)")
                    continue
                }
                #expect(why.contains("swiotlb_do_find_slots"))
                #expect(kernel.log.contains("7c3940bf81e5"))
                // A hung kernel maps nothing more.
                #expect(throws: DMAError.self) { try kernel.dmaMapSingle(GuestPhysicalAddress(0x10000), size: 512, direction: .toDevice) }
            } else {
                guard case .exhausted = error else {
                    Issue.record("6.12: expected exhaustion, got \(error)")
                    continue
                }
                #expect(kernel.swiotlbHang == nil && kernel.phase == .running)
            }
        }
    }

    /// `LinuxVersion.vpaAndDTL`: 6.1 registers and shares the VPAs (LPPACAs) and DTLs
    /// exactly as 6.12 (`paca.c: alloc_shared_lppaca`, `svm.c: dtl_cache_ctor`,
    /// `lpar.c: register_dtl_buffer` are the same code in 6.1.192 and 6.12.118).
    @Test("6.1 and 6.12 share and register the VPAs and DTLs the same way")
    func vpaAndDTLSame() throws {
        func shape(_ linux: LinuxVersion) throws -> [String] {
            let (t, kernel, _) = try Self.boot(linux, bootargs: "svm=on swiotlb=force console=hvc0")
            let counts = kernel.ledger.countsByOwner
            return [
                "H_REGISTER_VPA \(t.records("H_REGISTER_VPA").count)", "lppaca \(counts[.lppaca] ?? 0)",
                "dtl \(counts[.dtl] ?? 0)", "lppacas \(kernel.lppacaAddresses)",
            ]
        }
        #expect(try shape(.v6_1) == (try shape(.v6_12)))
        #expect(LinuxVersion.v6_1.vpaAndDTL.hasPrefix("as 6.12"))
    }
}
