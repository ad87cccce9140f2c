/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64: a small, fast,
/// deterministic generator. Same seed, same sequence, on every platform.
public struct Xoshiro256StarStar: RandomNumberGenerator, Hashable, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the four state words from `seed` with SplitMix64 (so seed 0 is fine).
    public init(seed: UInt64) {
        var x = seed
        s0 = Self.splitMix64(&x)
        s1 = Self.splitMix64(&x)
        s2 = Self.splitMix64(&x)
        s3 = Self.splitMix64(&x)
    }

    /// One step of SplitMix64 (Steele, Lea and Flood), the seeding generator.
    static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
