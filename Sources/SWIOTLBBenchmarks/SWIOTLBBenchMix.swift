import SWIOTLB

/// A weighted size mix for `svmkit bench swiotlb --mix`, e.g. `4K:70,64K:25,256K:5`.
package struct SWIOTLBBenchMix: Sendable, Hashable {
    /// Sizes in bytes with their weights, in the order given.
    package let entries: [(size: Int, weight: Int)]
    /// The text as given (normalized: sizes printed as `4K`).
    package let text: String

    package static func == (a: Self, b: Self) -> Bool { a.text == b.text }
    package func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// Parses `SIZE:WEIGHT,...`; `nil` names nothing, the caller reports the bad text.
    package init?(_ text: String) {
        var entries: [(Int, Int)] = []
        for part in text.split(separator: ",") {
            let fields = part.split(separator: ":")
            guard fields.count == 2, let size = SWIOTLBBenchFormat.parseSize(String(fields[0])), size <= SWIOTLB.segmentSize,
                let weight = Int(fields[1].trimmingCharacters(in: .whitespaces)), (1...1_000_000).contains(weight)
            else { return nil }
            entries.append((size, weight))
        }
        guard !entries.isEmpty else { return nil }
        self.entries = entries
        self.text = entries.map { "\(SWIOTLBBenchFormat.size($0.0)):\($0.1)" }.joined(separator: ",")
    }

    /// The largest size.
    package var largest: Int { entries.map(\.size).max() ?? 0 }

    /// The weighted mean size, rounded.
    package var meanSize: Int {
        let total = entries.reduce(0) { $0 + $1.weight }
        let bytes = entries.reduce(0) { $0 + $1.size * $1.weight }
        return (bytes + total / 2) / max(total, 1)
    }

    /// `count` sizes drawn with the weights from a seeded SplitMix64 (the same every run).
    package func draws(_ count: Int, seed: UInt64) -> [Int] {
        let total = UInt64(entries.reduce(0) { $0 + $1.weight })
        var rng = SWIOTLBBenchRunner.SplitMix64(state: seed)
        return (0..<count).map { _ in
            var pick = Int(rng.next() % total)
            for e in entries {
                if pick < e.weight { return e.size }
                pick -= e.weight
            }
            return entries[entries.count - 1].size
        }
    }
}

/// One benchmark point: a size (or a mix) at a queue depth.
package struct SWIOTLBBenchPoint: Sendable {
    /// The size, or the mix's mean size.
    package var size: Int
    /// The mix, if sizes are drawn.
    package var mix: SWIOTLBBenchMix?
    /// Mappings outstanding per thread.
    package var queueDepth: Int

    /// `4K`, or the mix.
    package var label: String { mix?.text ?? SWIOTLBBenchFormat.size(size) }
}
