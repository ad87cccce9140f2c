/// Where a TPM or client takes its nonces and random bytes from: the system generator,
/// or a seeded SplitMix64 so a simulation with the same seed gives the same trace.
public struct TPMRandomSource: Sendable {
    private var state: UInt64?

    /// The system generator.
    public static var system: TPMRandomSource { TPMRandomSource(state: nil) }

    /// A deterministic generator from `seed`.
    public static func seeded(_ seed: UInt64) -> TPMRandomSource { TPMRandomSource(state: seed) }

    private init(state: UInt64?) { self.state = state }

    /// `count` bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let word: UInt64
            if var s = state {
                s &+= 0x9E37_79B9_7F4A_7C15
                state = s
                var z = s
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                word = z ^ (z >> 31)
            } else {
                var rng = SystemRandomNumberGenerator()
                word = rng.next()
            }
            withUnsafeBytes(of: word.littleEndian) { out += $0 }
        }
        return Array(out.prefix(count))
    }
}
