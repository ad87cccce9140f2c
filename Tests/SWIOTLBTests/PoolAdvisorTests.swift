import Testing

@testable import SWIOTLB

/// `svmkit swiotlb advise`'s engine against an exhaustive replay through the public
/// pool API done here.
@Suite("Pool advisor")
struct PoolAdvisorTests {
    /// A random stream: up to `depth` live mappings of mixed sizes, some page-aligned
    /// and some with NVMe's min_align_mask, from `cpus` CPUs.
    static func scenario(seed: UInt64, areas: Int, depth: Int, ops count: Int) -> SWIOTLBReplayScenario {
        var rng = TestRandom(seed: seed)
        var ops: [SWIOTLBReplayOperation] = []
        var live: [UInt64] = []
        var next: UInt64 = 1
        for _ in 0..<count {
            if !live.isEmpty && (live.count >= depth || rng.next() % 3 == 0) {
                ops.append(.unmap(id: live.remove(at: Int(rng.next() % UInt64(live.count)))))
                continue
            }
            let size = [2048, 4096, 4096, 9000, 65536, 131_072][Int(rng.next() % 6)]
            let minAlign: UInt64 = rng.next() % 4 == 0 ? 0xfff : 0
            let original = (32 << 20) + (rng.next() % (1 << 20))
            ops.append(
                .map(
                    SWIOTLBReplayMap(
                        id: next, origAddr: original, size: size, minAlignMask: minAlign, cpu: Int(rng.next() % 8))))
            live.append(next)
            next += 1
        }
        return SWIOTLBReplayScenario(
            name: "seed \(seed)", pool: SWIOTLBReplayPool(start: 0, nslabs: 128 * areas, nareas: areas), ops: ops)
    }

    /// Failures of the stream on a pool of `slots`, through map and unmap with copies.
    static func failures(_ s: SWIOTLBReplayScenario, slots: Int, areas: Int, memory: HostBounceMemory) throws -> Int {
        let pool = try SWIOTLBPool(
            region: BounceRegion(base: 0, size: slots << 11), areas: areas, memory: memory, allocator: .reference)
        var live: [UInt64: (UInt64, Int)] = [:]
        var failed = 0
        for op in s.ops {
            switch op {
            case .map(let m):
                do {
                    let a = try pool.map(
                        original: m.origAddr, size: m.size, direction: .toDevice, attributes: .noWarn,
                        device: m.device, cpu: m.cpu)
                    live[m.id] = (a, m.size)
                } catch {
                    failed += 1
                }
            case .unmap(let id):
                if let (a, size) = live.removeValue(forKey: id) { try pool.unmap(a, size: size, direction: .toDevice) }
            }
        }
        return failed
    }

    @Test(arguments: [(UInt64(1), 1), (2, 2), (3, 4)])
    func smallestPoolMatchesExhaustiveReplay(_ seed: UInt64, _ areas: Int) throws {
        let s = Self.scenario(seed: seed, areas: areas, depth: 12, ops: 400)
        let memory = try HostBounceMemory(size: 40 << 20)
        let step = 128 * areas
        var smallest: Int?
        for slots in stride(from: step, through: 8192, by: step) where try Self.failures(s, slots: slots, areas: areas, memory: memory) == 0 {
            smallest = slots
            break
        }
        let advice = try SWIOTLBPoolAdvisor.advise(s)
        #expect(advice.minimumSlots == smallest)
        #expect(advice.minimumBytes == smallest.map { $0 * 2048 })
        #expect(advice.impossibleMaps == 0)
        let minimum = try #require(advice.minimumSlots)
        #expect(advice.peakDemandSlots <= minimum)
        #expect(advice.highWaterSlots >= advice.peakDemandSlots / 2 && advice.highWaterSlots <= minimum)
        #expect(advice.freeSlotsAtPeak == minimum - advice.highWaterSlots)
        #expect(advice.largestFreeRunAtPeak <= advice.freeSlotsAtPeak)
        // One step smaller fails (the answer is not just an upper bound).
        if minimum > step { #expect(try Self.failures(s, slots: minimum - step, areas: areas, memory: memory) > 0) }
        // The swiotlb= line, after Linux's rounding, holds at least the minimum.
        #expect(advice.swiotlbParameter == "\(minimum),\(areas)")
        let rounded = try SWIOTLBConfiguration(slabs: minimum, areas: areas)
        #expect(rounded.slots >= minimum && advice.roundedSlots == rounded.slots)
        #expect(advice.failuresAtRoundedSize == (try Self.failures(s, slots: rounded.slots, areas: rounded.areas, memory: memory)))
    }

    @Test("many small 64 KiB-aligned maps: the search starts at the alignment floor, which no working pool is below")
    func alignmentFloor() throws {
        // 40 live one-slot maps whose first slot must be 1 modulo 32 (min_align_mask 0xffff,
        // orig_addr 0x800 into a 64 KiB block): 40 slots of raw demand, but they span at
        // least 39 * 32 + 1 slots. (The search used to climb from 128 slots one segment at
        // a time; on a 40,000-op trace of such maps that took minutes.)
        let ops = (0..<40).map { k in
            SWIOTLBReplayOperation.map(
                SWIOTLBReplayMap(id: UInt64(k), origAddr: 0x10_0000 + UInt64(k) << 16 + 0x800, size: 1, minAlignMask: 0xffff))
        }
        let s = SWIOTLBReplayScenario(pool: SWIOTLBReplayPool(start: 0, nslabs: 128), ops: ops)
        let demand = SWIOTLBPoolAdvisor.peakDemand(s)
        #expect(demand.peak == 40 && demand.alignedFloor == 39 * 32 + 1)
        let memory = try HostBounceMemory(size: 8 << 20)
        let smallest = try #require(
            try stride(from: 128, through: 4096, by: 128).first { try Self.failures(s, slots: $0, areas: 1, memory: memory) == 0 })
        #expect(smallest >= demand.alignedFloor, "the floor is a lower bound")
        #expect(try SWIOTLBPoolAdvisor.advise(s).minimumSlots == smallest)
    }

    @Test("a stream with a map no pool can hold: counted apart, the rest still advised")
    func impossibleMaps() throws {
        let s = SWIOTLBReplayScenario(
            pool: SWIOTLBReplayPool(start: 0, nslabs: 128),
            ops: [
                .map(SWIOTLBReplayMap(id: 1, origAddr: 0x10_0800, size: 256 << 10, minAlignMask: 0xfff)),
                .map(SWIOTLBReplayMap(id: 2, origAddr: 0x10_0000, size: 4096)),
                .map(SWIOTLBReplayMap(id: 3, origAddr: 0x10_0000, size: 300_000)),
            ])
        let advice = try SWIOTLBPoolAdvisor.advise(s)
        #expect(advice.impossibleMaps == 2)
        #expect(advice.minimumSlots == 128 && advice.highWaterSlots == 2 && advice.peakDemandSlots == 2)
        #expect(advice.fragmentationAtPeak == 0)
    }
}
