import SWIOTLB

/// Parsing and printing for `svmkit bench swiotlb`.
package enum SWIOTLBBenchFormat {
    /// Parses `2K`, `64K`, `1M` or a byte count.
    package static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        var digits = Substring(t)
        var multiplier = 1
        if t.hasSuffix("KIB") || t.hasSuffix("KB") || t.hasSuffix("K") {
            multiplier = 1 << 10
        } else if t.hasSuffix("MIB") || t.hasSuffix("MB") || t.hasSuffix("M") {
            multiplier = 1 << 20
        } else if t.hasSuffix("GIB") || t.hasSuffix("GB") || t.hasSuffix("G") {
            multiplier = 1 << 30
        }
        while let last = digits.last, !last.isNumber { digits = digits.dropLast() }
        guard !digits.isEmpty, let n = Int(digits), n > 0, n <= (1 << 40) / multiplier else { return nil }
        return n * multiplier
    }

    /// `64K`, `2M`, or bytes.
    package static func size(_ bytes: Int) -> String {
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }

    /// `to-device`, `from-device`, `bidirectional`.
    package static func direction(_ d: DMADirection) -> String {
        switch d {
        case .toDevice: "to-device"
        case .fromDevice: "from-device"
        case .bidirectional: "bidirectional"
        }
    }

    /// A number with `digits` decimals.
    package static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var s = String(rounded)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
            if digits == 0 { s = String(s[..<dot]) }
        } else if digits > 0 {
            s += "." + String(repeating: "0", count: digits)
        }
        return s
    }

    /// Right-aligns `s` in `width` columns.
    package static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// The human table.
    package static func table(_ report: SWIOTLBBenchReport) -> String {
        var lines: [String] = []
        lines.append(
            "SWIOTLB bounce throughput: pool \(size(report.poolSize)), \(report.cpus) CPUs, "
                + "\(fixed(report.seconds, 2)) s per point; ratio = SWIOTLB / memcpy of the same bytes in the same run")
        let header = [
            ("size", 6), ("QD", 4), ("direction", 14), ("thr", 4), ("areas", 6), ("alloc", 10), ("GB/s", 8), ("Mmap/s", 8),
            ("p50 ns", 9), ("p99 ns", 9), ("memcpy", 8), ("ratio", 7), ("hiwater", 8), ("fail", 5),
        ]
        lines.append(header.map { pad($0.0, $0.1) }.joined(separator: " "))
        for r in report.results {
            let cells = [
                r.mix == nil ? size(r.size) : "mix", String(r.queueDepth), r.direction, String(r.threads), String(r.areas), r.allocator,
                fixed(r.bytesPerSecond / 1e9, 2), fixed(r.mappingsPerSecond / 1e6, 2), fixed(r.p50Nanoseconds, 0),
                fixed(r.p99Nanoseconds, 0), fixed(r.memcpyBytesPerSecond / 1e9, 2), fixed(r.ratio, 3),
                String(r.highWaterSlots), String(r.failures),
            ]
            lines.append(zip(cells, header).map { pad($0, $1.1) }.joined(separator: " "))
        }
        if !report.allocationCost.isEmpty {
            lines.append("")
            lines.append("Allocator alone (release + reserve, \(report.allocationCost[0].sizes); CPU ns):")
            for c in report.allocationCost {
                lines.append(
                    "  \(pad(c.allocator, 9)): empty \(fixed(c.emptyNanoseconds, 1)) ns, "
                        + "\(fixed(c.occupancy * 100, 1)) % full \(fixed(c.occupiedNanoseconds, 1)) ns, "
                        + "ratio \(fixed(c.ratio, 2)), \(c.failures) failures")
            }
        }
        if !report.scaling.isEmpty {
            lines.append("")
            lines.append("N threads over one (median of paired rounds):")
            for s in report.scaling {
                lines.append(
                    "  \(pad(size(s.size), 5)) QD \(s.queueDepth) \(s.direction) \(s.allocator), \(s.threads) threads, \(s.areas) areas: "
                        + "\(fixed(s.ratio, 2))x (wall clock \(fixed(s.wallRatio, 2))x)")
            }
        }
        if !report.fastOverReference.isEmpty {
            lines.append("")
            lines.append("Fast allocator over reference (speed):")
            var line = " "
            for c in report.fastOverReference {
                let cell = " \(c.name): \(fixed(c.ratio, 1))x;"
                if line.count + cell.count > 118 {
                    lines.append(line)
                    line = " "
                }
                line += cell
            }
            if line.count > 1 { lines.append(line) }
        }
        if let g = report.growth {
            lines.append("")
            lines.append(growthLine(g))
        }
        if !report.targets.isEmpty {
            lines.append("")
            lines.append("Targets:")
            for t in report.targets {
                lines.append(
                    "  [\(t.met ? "met" : "MISSED")] \(t.name): \(fixed(t.measured, 3)) (goal \(t.comparison) \(fixed(t.goal, 2)))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The `--growth` summary line.
    package static func growthLine(_ g: SWIOTLBGrowthCost) -> String {
        "Dynamic growth (\(g.rounds) rounds, 1 MiB pools): \(fixed(g.shareCallsPerGrowth, 2)) share calls per growth, "
            + "\(fixed(g.unshareCallsPerRelease, 2)) unshare per release; growing map p50 \(fixed(g.growthMapP50Nanoseconds, 0)) ns, "
            + "p99 \(fixed(g.growthMapP99Nanoseconds, 0)) ns (other maps p50 \(fixed(g.plainMapP50Nanoseconds, 0)) ns); "
            + "\(g.bytesReturnedPerRound) bytes returned per round"
    }
}
