extension SWIOTLBBenchRunner {
    /// Fast over reference for every point and for the allocator alone.
    package static func comparisons(rows: [SWIOTLBBenchRow], costs: [SWIOTLBAllocationCost]) -> [SWIOTLBBenchComparison] {
        var out: [SWIOTLBBenchComparison] = []
        for fast in rows where fast.allocator == "fast" {
            guard
                let reference = rows.first(where: {
                    $0.allocator == "reference" && $0.size == fast.size && $0.direction == fast.direction
                        && $0.threads == fast.threads && $0.queueDepth == fast.queueDepth && $0.mix == fast.mix
                })
            else { continue }
            out.append(
                SWIOTLBBenchComparison(
                    name: "\(fast.direction) \(fast.mix ?? SWIOTLBBenchFormat.size(fast.size)) QD \(fast.queueDepth), "
                        + "\(fast.threads) thread\(fast.threads == 1 ? "" : "s")",
                    ratio: fast.bytesPerSecond / max(reference.bytesPerSecond, 1)))
        }
        if let fast = costs.first(where: { $0.allocator == "fast" }),
            let reference = costs.first(where: { $0.allocator == "reference" })
        {
            out.append(
                SWIOTLBBenchComparison(
                    name: "allocation alone, empty pool", ratio: reference.emptyNanoseconds / max(fast.emptyNanoseconds, 1e-9)))
            out.append(
                SWIOTLBBenchComparison(
                    name: "allocation alone, about 90 % full",
                    ratio: reference.occupiedNanoseconds / max(fast.occupiedNanoseconds, 1e-9)))
        }
        return out
    }

    /// Issue 18's targets, evaluated on the fast allocator where the run measured them
    /// (one thread unless named; `linux` rows come from the Linux peer when it ran).
    package static func targets(
        rows: [SWIOTLBBenchRow], costs: [SWIOTLBAllocationCost], scaling: [SWIOTLBBenchScaling]
    ) -> [SWIOTLBBenchTarget] {
        var out: [SWIOTLBBenchTarget] = []
        func row(_ size: Int, _ direction: String, _ depth: Int, _ allocator: String = "fast") -> SWIOTLBBenchRow? {
            rows.first {
                $0.size == size && $0.direction == direction && $0.threads == 1 && $0.allocator == allocator
                    && $0.queueDepth == depth && $0.mix == nil
            }
        }
        func atLeast(_ name: String, _ measured: Double, _ goal: Double) {
            out.append(SWIOTLBBenchTarget(name: name, measured: measured, goal: goal, comparison: "at least", met: measured >= goal))
        }
        let goals: [(size: Int, depth: Int, goal: Double)] = [
            (4 << 10, 1, 0.85), (4 << 10, 32, 0.80), (64 << 10, 1, 0.95), (64 << 10, 32, 0.95),
        ]
        for g in goals {
            if let r = row(g.size, "to-device", g.depth) {
                atLeast("TO_DEVICE \(SWIOTLBBenchFormat.size(g.size)) QD \(g.depth) / memcpy baseline", r.ratio, g.goal)
            }
        }
        if let fast = row(4 << 10, "to-device", 32) {
            for peer in ["linux", "reference"] {
                guard let other = row(4 << 10, "to-device", 32, peer) else { continue }
                atLeast(
                    "fast / \(peer) allocator mappings/s, TO_DEVICE 4K QD 32",
                    fast.mappingsPerSecond / max(other.mappingsPerSecond, 1), 2.0)
            }
        }
        for s in scaling
        where s.allocator == "fast" && s.threads == 2 && s.areas >= 2 && s.direction == "to-device" && s.queueDepth == 32
            && s.mix == nil
        {
            atLeast(
                "2 threads / 1 thread, \(s.areas) areas, TO_DEVICE \(SWIOTLBBenchFormat.size(s.size)) QD 32", s.ratio, 1.8)
        }
        for c in costs where c.allocator == "fast" {
            out.append(
                SWIOTLBBenchTarget(
                    name: "allocation at \(Int((c.occupancy * 100).rounded())) % occupancy / empty pool (mixed sizes)",
                    measured: c.ratio, goal: 2.0, comparison: "at most", met: c.ratio <= 2.0))
        }
        return out
    }
}
