/// A set of guest frame numbers as a bitmap: one bit per 64 KiB page, 128 KiB for a
/// 64 GiB guest. The Ultravisor's page-in tracking bitmap (`core/pagein_track.c`) and
/// the hypervisor's own view of which pages it gave away are kept in these.
public struct FrameBitmap: Hashable, Sendable {
    private var words: [UInt64]
    /// How many frames it can hold (frames ≥ this are never members).
    public let capacity: Int
    /// How many frames are members.
    public private(set) var count = 0

    /// An empty bitmap for frames `0..<capacity`.
    public init(capacity: Int) {
        self.capacity = max(0, capacity)
        words = [UInt64](repeating: 0, count: (self.capacity + 63) / 64)
    }

    /// Whether `frame` is a member.
    public func contains(_ frame: UInt64) -> Bool {
        guard frame < UInt64(capacity) else { return false }
        return words[Int(frame >> 6)] & (1 << (frame & 63)) != 0
    }

    /// Adds `frame`; returns `false` if it was already there or is out of range.
    @discardableResult
    public mutating func insert(_ frame: UInt64) -> Bool {
        guard frame < UInt64(capacity) else { return false }
        let bit: UInt64 = 1 << (frame & 63)
        let i = Int(frame >> 6)
        guard words[i] & bit == 0 else { return false }
        words[i] |= bit
        count += 1
        return true
    }

    /// Removes `frame`; returns whether it was there.
    @discardableResult
    public mutating func remove(_ frame: UInt64) -> Bool {
        guard contains(frame) else { return false }
        words[Int(frame >> 6)] &= ~(1 << (frame & 63))
        count -= 1
        return true
    }

    /// Removes every frame.
    public mutating func removeAll() {
        for i in words.indices { words[i] = 0 }
        count = 0
    }

    /// The members, in increasing order.
    public var members: [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(count)
        for (i, w) in words.enumerated() where w != 0 {
            var bits = w
            while bits != 0 {
                let b = UInt64(bits.trailingZeroBitCount)
                out.append(UInt64(i) << 6 | b)
                bits &= bits - 1
            }
        }
        return out
    }
}
