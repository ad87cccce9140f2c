@_spi(Firmware) import PEFMachine
import PowerABI
import SWIOTLB
import Testing

@testable import SecureGuest
import PEFTestSupport

/// `CONFIG_SWIOTLB_DYNAMIC` in the guest (``GuestKernelOptions/swiotlbDynamic``) and
/// the SWIOTLB trace a kernel records (`--swiotlb-trace`), on a secure guest whose
/// 1 MiB default pool (`swiotlb=512`) holds four 256 KiB mappings.
@Suite("Dynamic SWIOTLB in the guest")
struct SWIOTLBDynamicGuestTests {
    static let mapping = 256 << 10

    static func secureKernel(_ options: GuestKernelOptions) throws -> (GuestTestMachine, GuestKernel) {
        let t = try GuestTestMachine(memory: 512 << 20, cpus: 1, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let (kernel, _) = try t.boot(options)
        return (t, kernel)
    }

    /// Frames of `region`.
    static func frames(_ base: UInt64, _ bytes: Int) -> Range<UInt64> { (base >> 16)..<((base + UInt64(bytes)) >> 16) }

    /// Maps five 256 KiB buffers (the fifth grows the pool), returns them.
    static func fill(_ kernel: GuestKernel, source: GuestPhysicalAddress) throws -> [UInt64] {
        try (0..<5).map { _ in try kernel.dmaMapSingle(source, size: mapping, direction: .toDevice) }
    }

    @Test("a series without CONFIG_SWIOTLB_DYNAMIC (before 6.6) never grows: 6.1 with swiotlbDynamic has one pool")
    func noDynamicPoolsBefore66() throws {
        var options = GuestKernelOptions(swiotlbDynamic: true)
        options.linux = .v6_1
        let (_, kernel) = try Self.secureKernel(options)
        #expect(kernel.swiotlbDynamicPool == nil)
        let source = try kernel.allocateMemory(bytes: UInt64(Self.mapping), purpose: "test source")
        for _ in 0..<4 { _ = try kernel.dmaMapSingle(source, size: Self.mapping, direction: .toDevice) }
        #expect(throws: (any Error).self, "the fifth 256 KiB map finds the 1 MiB pool full") {
            try kernel.dmaMapSingle(source, size: Self.mapping, direction: .toDevice)
        }
        #expect(!LinuxVersion.v6_1.hasDynamicSWIOTLB && LinuxVersion.v6_12.hasDynamicSWIOTLB)
    }

    @Test("grow, shrink, grow under an injected share failure: one UV_SHARE_PAGE per growth, nothing left shared")
    func growShrinkGrowUnderFailures() throws {
        let (t, kernel) = try Self.secureKernel(GuestKernelOptions(swiotlbDynamic: true))
        let dynamic = try #require(kernel.swiotlbDynamicPool)
        let defaultPages = try #require(kernel.ledger.countsByOwner[.swiotlb])
        let source = try kernel.allocateMemory(bytes: UInt64(Self.mapping), purpose: "test source")

        for round in 0..<3 {
            if round == 1 {
                // The growth's share succeeds for only 2 pages: Linux ignores the status.
                t.machine.faults.add(
                    FaultRule(
                        opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(1),
                        action: .partial(pages: 2, status: UltravisorStatus.p2.rawValue)))
            }
            let shares = t.machine.trace.count(of: "UV_SHARE_PAGE")
            let unshares = t.machine.trace.count(of: "UV_UNSHARE_PAGE")
            let bounces = try Self.fill(kernel, source: source)
            #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == shares + 1, "round \(round): one share per growth")
            let extra = try #require(dynamic.extraPools.first)
            #expect(dynamic.extraPools.count == 1)
            #expect(extra.region.size == 1 << 20, "the default pool's size")
            #expect(extra.contains(bounces[4]))
            let extraFrames = Self.frames(extra.region.base, extra.region.size)
            #expect(
                extraFrames.allSatisfy { kernel.ledger.entries[GuestFrameNumber($0)]?.callSite == "alloc_dma_pages" },
                "the guest believes the whole pool shared")
            if round == 1 {
                #expect(
                    t.memory.states(of: extraFrames).filter { $0 == .shared }.count == 2,
                    "the Ultravisor shared only 2 pages")
                #expect(!kernel.ledger.ignoredStatuses.isEmpty, "the ignored status is written down")
            }
            for b in bounces { try kernel.dmaUnmapSingle(b, size: Self.mapping, direction: .toDevice) }
            // The last unmap in the added pool unshares it in one call and frees it.
            #expect(dynamic.extraPools.isEmpty)
            #expect(t.machine.trace.count(of: "UV_UNSHARE_PAGE") == unshares + 1)
            #expect(extraFrames.allSatisfy { kernel.ledger.entries[GuestFrameNumber($0)] == nil })
            #expect(t.memory.states(of: extraFrames).allSatisfy { $0 == .secure }, "round \(round): nothing half-shared")
            #expect(kernel.memblock?.region(containing: GuestPhysicalAddress(extra.region.base)) == nil, "memory returned")
            #expect(kernel.ledger.countsByOwner[.swiotlb] == defaultPages, "only the default pool stays shared")
            let audit = kernel.audit("after round \(round)")
            #expect(audit.isClean, "\(audit)")
        }
        let g = dynamic.growthStatistics
        #expect(g.growths == 3)
        #expect(g.shareCalls == 3)
        #expect(g.unshareCalls == 3)
        #expect(g.bytesReturned == 3 << 20)
    }

    @Test("without CONFIG_SWIOTLB_DYNAMIC the fifth map fails with Linux's line and nothing grows")
    func staticPoolFails() throws {
        let (t, kernel) = try Self.secureKernel(GuestKernelOptions())
        #expect(kernel.swiotlbDynamicPool == nil)
        let source = try kernel.allocateMemory(bytes: UInt64(Self.mapping), purpose: "test source")
        let shares = t.machine.trace.count(of: "UV_SHARE_PAGE")
        #expect(throws: DMAError.self) { try Self.fill(kernel, source: source) }
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == shares)
        #expect(kernel.log.contains("swiotlb buffer is full"))
    }

    @Test("the recorded trace replays, and advise's answer is the exhaustive replay's")
    func recordedTraceAdvice() throws {
        let log = SWIOTLBTraceLog()
        let (_, kernel) = try Self.secureKernel(GuestKernelOptions(swiotlbDynamic: true, swiotlbTrace: log))
        let source = try kernel.allocateMemory(bytes: UInt64(Self.mapping), purpose: "test source")
        var live: [(UInt64, Int)] = []
        var maps = 0
        var rng: UInt64 = 0x5EED
        for _ in 0..<200 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            if !live.isEmpty && (live.count >= 12 || rng >> 62 == 0) {
                let (a, size) = live.remove(at: Int((rng >> 20) % UInt64(live.count)))
                try kernel.dmaUnmapSingle(a, size: size, direction: .fromDevice)
                continue
            }
            let size = [4096, 9000, 65536, 200_000][Int((rng >> 33) % 4)]
            maps += 1
            live.append((try kernel.dmaMapSingle(GuestPhysicalAddress(source.rawValue + (rng >> 40) % 4096), size: size, direction: .fromDevice), size))
        }
        for (a, size) in live { try kernel.dmaUnmapSingle(a, size: size, direction: .fromDevice) }
        let trace = try SWIOTLBReplayTrace(json: Array(log.trace.jsonText.utf8))
        #expect(trace == log.trace, "the JSON round-trips")
        let scenario = try #require(trace.scenarios.first)
        #expect(scenario.pool.nslabs == 512)
        #expect(scenario.ops.count == 2 * maps, "every map and its unmap")
        let advice = try SWIOTLBPoolAdvisor.advise(scenario, areas: 1)
        // Exhaustive: every size from one segment up, through the public pool API.
        let memory = try HostBounceMemory(size: 64 << 20)
        var smallest: Int?
        for slots in stride(from: 128, through: 8192, by: 128) where smallest == nil {
            let pool = try SWIOTLBPool(
                region: BounceRegion(base: 0, size: slots << 11), memory: memory, allocator: .reference)
            var addresses: [UInt64: (UInt64, Int)] = [:]
            var failed = false
            for op in scenario.ops where !failed {
                switch op {
                case .map(let m):
                    if let a = try? pool.map(
                        original: (32 << 20) | (m.origAddr & 0xffff), size: m.size, direction: .toDevice, attributes: .noWarn,
                        device: DMADevice(minAlignMask: m.minAlignMask, segmentBoundaryMask: m.segBoundaryMask))
                    {
                        addresses[m.id] = (a, m.size)
                    } else {
                        failed = true
                    }
                case .unmap(let id):
                    if let (a, size) = addresses.removeValue(forKey: id) { try pool.unmap(a, size: size, direction: .toDevice) }
                }
            }
            if !failed { smallest = slots }
        }
        #expect(advice.minimumSlots == smallest)
        #expect(advice.minimumSlots.map { $0 > 512 } == true, "the trace needed more than the default pool")
    }
}
