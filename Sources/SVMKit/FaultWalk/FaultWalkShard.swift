/// A deterministic slice of a fault walk: `--shard K/N` runs the scenarios whose index
/// is K−1 modulo N (round robin, so every shard gets some of every phase).
public struct FaultWalkShard: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Which shard, from 1.
    public let index: Int
    /// How many shards.
    public let count: Int

    /// `K/N` with 1 ≤ K ≤ N; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: k, count: n)
    }

    /// Shard `index` of `count`; nil unless 1 ≤ index ≤ count.
    public init?(index: Int, count: Int) {
        guard count >= 1, index >= 1, index <= count else { return nil }
        self.index = index
        self.count = count
    }

    /// Whether scenario `scenario` (from 0) is in this shard.
    public func contains(_ scenario: Int) -> Bool { scenario % count == index - 1 }

    /// `K/N`.
    public var description: String { "\(index)/\(count)" }
}
