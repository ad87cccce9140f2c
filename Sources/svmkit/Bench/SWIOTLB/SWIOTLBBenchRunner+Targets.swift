extension SWIOTLBBenchRunner {
    /// Fast over reference for every point and for the allocator alone.
    static func comparisons(rows: [SWIOTLBBenchRow], costs: [SWIOTLBAllocationCost]) -> [SWIOTLBBenchComparison] {
        var out: [SWIOTLBBenchComparison] = []
        for fast in rows where fast.allocator == "fast" {
            guard
                let reference = rows.first(where: {
                    $0.allocator == "reference" && $0.size == fast.size && $0.direction == fast.direction
                        && $0.threads == fast.threads
                })
            else { continue }
            out.append(
                SWIOTLBBenchComparison(
                    name: "\(fast.direction) \(SWIOTLBBenchFormat.size(fast.size)), \(fast.threads) thread\(fast.threads == 1 ? "" : "s")",
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

    /// The issue's targets, evaluated on the fast allocator where the run measured them.
    static func targets(
        rows: [SWIOTLBBenchRow], costs: [SWIOTLBAllocationCost], scaling: [SWIOTLBBenchScaling]
    ) -> [SWIOTLBBenchTarget] {
        var out: [SWIOTLBBenchTarget] = []
        func row(_ size: Int, _ direction: String) -> SWIOTLBBenchRow? {
            rows.first { $0.size == size && $0.direction == direction && $0.threads == 1 && $0.allocator == "fast" }
        }
        func atLeast(_ name: String, _ measured: Double, _ goal: Double) {
            out.append(SWIOTLBBenchTarget(name: name, measured: measured, goal: goal, comparison: "at least", met: measured >= goal))
        }
        if let r = row(64 << 10, "to-device") { atLeast("map+unmap TO_DEVICE 64 KiB / memcpy", r.ratio, 0.90) }
        if let r = row(4 << 10, "to-device") { atLeast("map+unmap TO_DEVICE 4 KiB / memcpy", r.ratio, 0.70) }
        if let r = row(64 << 10, "bidirectional") {
            atLeast("map+unmap BIDIRECTIONAL 64 KiB / two memcpys", r.ratio, 0.85)
        }
        for s in scaling where s.allocator == "fast" && s.threads == 2 && s.areas >= 2 && s.direction == "to-device" {
            atLeast("2 threads / 1 thread, \(s.areas) areas, TO_DEVICE \(SWIOTLBBenchFormat.size(s.size))", s.ratio, 1.8)
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
