extension SWIOTLBBenchRunner {
    /// Two threads over one thread, for every size and direction measured with both.
    static func scaling(_ rows: [SWIOTLBBenchRow]) -> [SWIOTLBBenchScaling] {
        var out: [SWIOTLBBenchScaling] = []
        for two in rows where two.threads == 2 {
            guard
                let one = rows.first(where: {
                    $0.threads == 1 && $0.size == two.size && $0.direction == two.direction
                        && $0.allocator == two.allocator && $0.areas == two.areas
                })
            else { continue }
            out.append(
                SWIOTLBBenchScaling(
                    size: two.size, direction: two.direction, allocator: two.allocator, areas: two.areas,
                    ratio: two.bytesPerSecond / max(one.bytesPerSecond, 1),
                    wallRatio: two.wallBytesPerSecond / max(one.wallBytesPerSecond, 1)))
        }
        return out
    }

    /// The targets, evaluated on the fast allocator where the run measured them.
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
        for s in scaling where s.allocator == "fast" && s.areas >= 2 && s.direction == "to-device" {
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
