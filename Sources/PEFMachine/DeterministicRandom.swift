import Locking

/// The machine's one seeded source of randomness: register scrubbing on hcall
/// reflection, `H_RANDOM`, page-out keys and IVs. Same seed and same sequence of
/// calls, same values, hence the same trace (ARCHITECTURE.md, conventions).
///
/// Shared by the firmware parts, so it is a `final class` around a `Mutex`.
public final class DeterministicRandom: Sendable {
    private let generator: Lock<Xoshiro256StarStar>
    /// The seed it started from.
    public let seed: UInt64

    /// A generator seeded with `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        generator = Lock(Xoshiro256StarStar(seed: seed))
    }

    /// The next 64 random bits.
    public func next() -> UInt64 { generator.withLock { $0.next() } }

    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        generator.withLock { g in
            var out = [UInt8]()
            out.reserveCapacity(count)
            while out.count < count {
                var word = g.next()
                for _ in 0..<min(8, count - out.count) {
                    out.append(UInt8(truncatingIfNeeded: word))
                    word >>= 8
                }
            }
            return out
        }
    }

    /// A uniform value in `0..<bound` (0 when `bound` is 0).
    public func next(below bound: UInt64) -> UInt64 {
        guard bound > 0 else { return 0 }
        return generator.withLock { g in UInt64.random(in: 0..<bound, using: &g) }
    }

    /// A uniform value in `[0, 1)`.
    public func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Fills `registers[i]` with random values for every `i` in `indices`.
    public func fill(_ registers: inout [UInt64], indices: some Sequence<Int>) {
        generator.withLock { g in
            for i in indices where registers.indices.contains(i) { registers[i] = g.next() }
        }
    }
}
