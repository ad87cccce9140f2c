import Foundation

/// The SVG chart of a report: throughput against mapping size, one panel per direction
/// and queue depth (a row of panels per depth), SWIOTLB (each allocator) beside the
/// memcpy baseline; solid lines for one thread, dashed for two or more.
package enum SWIOTLBBenchChart {
    package static let panelWidth = 380.0
    package static let panelHeight = 270.0
    package static let left = 64.0
    package static let top = 118.0
    package static let gap = 44.0
    package static let bottom = 96.0

    package struct Series {
        var label: String
        var color: String
        var dashed: Bool
        var points: [(size: Int, value: Double)]
    }

    package static func color(_ allocator: String) -> String {
        switch allocator {
        case "fast": "#1f6fd1"
        case "reference": "#e07b00"
        default: "#2a9d3a"
        }
    }

    package static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    package static func svg(_ report: SWIOTLBBenchReport) -> String {
        let directions = ["to-device", "from-device", "bidirectional"].filter { d in report.results.contains { $0.direction == d } }
        let sizes = Array(Set(report.results.map(\.size))).sorted()
        let threadCounts = Array(Set(report.results.map(\.threads))).sorted()
        let allocators = ["fast", "reference", "linux"].filter { a in report.results.contains { $0.allocator == a } }
        let depths = Array(Set(report.results.map(\.queueDepth))).sorted()
        let maxValue = max(report.results.map { max($0.bytesPerSecond, $0.memcpyBytesPerSecond) }.max() ?? 1, 1) / 1e9
        let yStep = niceStep(maxValue / 5)
        let yMax = (maxValue / yStep).rounded(.up) * yStep
        let width = left + Double(max(directions.count, 1)) * (panelWidth + gap) + 10
        let height = top + Double(max(depths.count, 1)) * (panelHeight + bottom) + 10
        var out: [String] = []
        out.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
                + "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">")
        out.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        out.append(text(left, 28, "SWIOTLB map + unmap throughput against memcpy of the same bytes (same run)", size: 18, weight: "bold"))
        out.append(
            text(
                left, 50,
                "pool \(SWIOTLBBenchFormat.size(report.poolSize)), \(report.cpus) CPUs, \(SWIOTLBBenchFormat.fixed(report.seconds, 2)) s per point; "
                    + "bytes/s summed over threads, each over its own CPU time; memcpy copies as often as the direction needs",
                size: 12, color: "#444"))

        // Legend.
        var lx = left
        let ly = 76.0
        var legend: [(String, String, Bool)] = [("memcpy baseline", "#777777", false)]
        for a in allocators { legend.append(("SWIOTLB \(a) allocator", color(a), false)) }
        if threadCounts.count > 1 { legend.append(("dashed: \(threadCounts.last ?? 2) threads, solid: \(threadCounts.first ?? 1)", "#333333", true)) }
        for (label, c, dashed) in legend {
            out.append(
                "<line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ly))\" stroke=\"\(c)\" stroke-width=\"3\"\(dashed ? " stroke-dasharray=\"7 4\"" : "")/>")
            out.append(text(lx + 34, ly + 4, label, size: 12))
            lx += 60 + Double(label.count) * 7.0
        }

        for (d, depth) in depths.enumerated() {
        let results = report.results.filter { $0.queueDepth == depth }
        for (i, direction) in directions.enumerated() {
            let x0 = left + Double(i) * (panelWidth + gap)
            let y0 = top + Double(d) * (panelHeight + bottom)
            func px(_ size: Int) -> Double {
                guard let first = sizes.first, let last = sizes.last, last > first else { return x0 + panelWidth / 2 }
                let t = (log2(Double(size)) - log2(Double(first))) / (log2(Double(last)) - log2(Double(first)))
                return x0 + 16 + t * (panelWidth - 32)
            }
            func py(_ gbps: Double) -> Double { y0 + panelHeight - gbps / yMax * panelHeight }

            out.append("<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(panelWidth))\" height=\"\(f(panelHeight))\" fill=\"#fafafa\" stroke=\"#bbbbbb\"/>")
            out.append(
                text(
                    x0 + panelWidth / 2, y0 - 10, direction.uppercased().replacingOccurrences(of: "-", with: "_") + ", QD \(depth)",
                    size: 14, weight: "bold", anchor: "middle"))
            var v = 0.0
            while v <= yMax + yStep / 2 {
                let y = py(v)
                out.append("<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelWidth))\" y2=\"\(f(y))\" stroke=\"#e3e3e3\"/>")
                out.append(text(x0 - 6, y + 4, SWIOTLBBenchFormat.fixed(v, yStep < 1 ? 1 : 0), size: 11, anchor: "end", color: "#555"))
                v += yStep
            }
            for size in sizes {
                out.append(text(px(size), y0 + panelHeight + 16, SWIOTLBBenchFormat.size(size), size: 11, anchor: "middle", color: "#555"))
            }
            out.append(text(x0 + panelWidth / 2, y0 + panelHeight + 34, "mapping size (log scale)", size: 11, anchor: "middle", color: "#555"))
            if i == 0 {
                out.append(
                    "<text x=\"\(f(x0 - 46))\" y=\"\(f(y0 + panelHeight / 2))\" font-size=\"12\" fill=\"#555\" text-anchor=\"middle\" "
                        + "transform=\"rotate(-90 \(f(x0 - 46)) \(f(y0 + panelHeight / 2)))\">GB/s</text>")
            }

            var series: [Series] = []
            for threads in threadCounts {
                let dashed = threads != threadCounts.first
                // The memcpy baseline, from the fast rows (any allocator's rows carry one).
                let baselineRows = results.filter {
                    $0.direction == direction && $0.threads == threads && $0.allocator == (allocators.first ?? "fast")
                }
                series.append(
                    Series(
                        label: "memcpy", color: "#777777", dashed: dashed,
                        points: baselineRows.map { ($0.size, $0.memcpyBytesPerSecond / 1e9) }.sorted { $0.size < $1.size }))
                for a in allocators {
                    let rows = results.filter { $0.direction == direction && $0.threads == threads && $0.allocator == a }
                    series.append(
                        Series(
                            label: a, color: color(a), dashed: dashed,
                            points: rows.map { ($0.size, $0.bytesPerSecond / 1e9) }.sorted { $0.size < $1.size }))
                }
            }
            for s in series where !s.points.isEmpty {
                let path = s.points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(f(px($0.element.size))),\(f(py($0.element.value)))" }
                    .joined(separator: " ")
                out.append(
                    "<path d=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2.5\"\(s.dashed ? " stroke-dasharray=\"7 4\"" : "")/>")
                for p in s.points {
                    out.append("<circle cx=\"\(f(px(p.size)))\" cy=\"\(f(py(p.value)))\" r=\"3.2\" fill=\"\(s.color)\"/>")
                }
            }
            // The SWIOTLB / memcpy ratios under the axis, one row per allocator (one thread).
            for (row, a) in allocators.enumerated() {
                let y = y0 + panelHeight + 56 + Double(row) * 16
                if i == 0 { out.append(text(x0 - 6, y, "\(a):", size: 10, anchor: "end", color: color(a))) }
                for r in results where r.direction == direction && r.allocator == a
                    && r.threads == (threadCounts.first ?? 1)
                {
                    out.append(text(px(r.size), y, SWIOTLBBenchFormat.fixed(r.ratio, 2), size: 10, anchor: "middle", color: color(a)))
                }
            }
        }
        }
        out.append(
            text(
                left, height - 10,
                "Rows under each panel: SWIOTLB / memcpy ratio per allocator (median of paired rounds, one thread). Data: bench/swiotlb.json.",
                size: 11, color: "#444"))
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    package static func niceStep(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for m in [1.0, 2.0, 5.0, 10.0] where m * magnitude >= raw { return m * magnitude }
        return 10 * magnitude
    }

    package static func f(_ v: Double) -> String { SWIOTLBBenchFormat.fixed(v, 1) }

    package static func text(
        _ x: Double, _ y: Double, _ s: String, size: Int, weight: String = "normal", anchor: String = "start",
        color: String = "#222"
    ) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" font-weight=\"\(weight)\" fill=\"\(color)\" text-anchor=\"\(anchor)\">\(escape(s))</text>"
    }
}
