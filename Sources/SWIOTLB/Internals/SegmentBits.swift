/// Bit tricks over one segment's 128 slots, bit `i` standing for slot `i`.
///
/// Hot helpers use masking shifts (`&<<`, `&>>`) with amounts proven below 128;
/// the others use smart shifts, where shifting by 128 gives 0.
enum SegmentBits {
    /// All 128 slots (computed, so reading it needs no lazy-global check).
    @inline(__always)
    static var all: UInt128 { .max }

    /// `count` bits (1 ... 128) starting at bit `first` (`first + count <= 128`).
    @inline(__always)
    static func run(_ first: Int, _ count: Int) -> UInt128 {
        (all &>> (128 &- count)) &<< first
    }

    /// Bits `0 ..< count` (0 ... 128).
    @inline(__always)
    static func below(_ count: Int) -> UInt128 { count == 0 ? 0 : all &>> (128 &- count) }

    /// The starts of runs of at least `length` set bits (1 ... 128) in `bits`:
    /// bit `p` of the result is set when bits `p ..< p + length` all are.
    @inline(__always)
    static func runStarts(_ bits: UInt128, length: Int) -> UInt128 {
        var g = bits
        var have = 1
        while have < length {
            let step = min(have, length &- have)  // at most 64
            g &= g &>> step
            have &+= step
        }
        return g
    }

    /// The length of the longest run of set bits, in O(log 128) steps.
    static func longestRun(_ bits: UInt128) -> Int {
        if bits == 0 { return 0 }
        if bits == .max { return 128 }
        // g[i]: starts of runs of at least 2^i.
        var g: (UInt128, UInt128, UInt128, UInt128, UInt128, UInt128, UInt128) = (bits, 0, 0, 0, 0, 0, 0)
        g.1 = g.0 & (g.0 >> 1)
        g.2 = g.1 & (g.1 >> 2)
        g.3 = g.2 & (g.2 >> 4)
        g.4 = g.3 & (g.3 >> 8)
        g.5 = g.4 & (g.4 >> 16)
        g.6 = g.5 & (g.5 >> 32)
        // A run of 128 is bits == .max, handled above, so the longest run is below 128.
        func level(_ i: Int) -> UInt128 {
            switch i {
            case 0: g.0
            case 1: g.1
            case 2: g.2
            case 3: g.3
            case 4: g.4
            case 5: g.5
            default: g.6
            }
        }
        var top = 6
        while level(top) == 0 { top -= 1 }
        var candidates = level(top)
        var length = 1 << top
        var i = top - 1
        while i >= 0 {
            let longer = candidates & (level(i) >> length)
            if longer != 0 {
                candidates = longer
                length += 1 << i
            }
            i -= 1
        }
        return length
    }

    /// Set bits at every `period`-th position starting at `phase` (`period` a power of
    /// two up to 128, `phase < period`).
    @inline(__always)
    static func every(_ period: Int, phase: Int) -> UInt128 {
        let pattern: UInt128
        switch period {
        case 1: return .max
        case 2: pattern = 0x5555_5555_5555_5555_5555_5555_5555_5555
        case 4: pattern = 0x1111_1111_1111_1111_1111_1111_1111_1111
        case 8: pattern = 0x0101_0101_0101_0101_0101_0101_0101_0101
        case 16: pattern = 0x0001_0001_0001_0001_0001_0001_0001_0001
        case 32: pattern = 0x0000_0001_0000_0001_0000_0001_0000_0001
        case 64: pattern = 0x0000_0000_0000_0001_0000_0000_0000_0001
        default: pattern = 1
        }
        return pattern << phase
    }

    /// The highest set bit at or below `bit`, or `nil`.
    @inline(__always)
    static func highest(in bits: UInt128, atOrBelow bit: Int) -> Int? {
        let masked = bits & below(bit + 1)
        return masked == 0 ? nil : 127 - masked.leadingZeroBitCount
    }
}
