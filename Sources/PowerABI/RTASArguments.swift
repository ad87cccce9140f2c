/// An RTAS argument block (`struct rtas_args`) as it sits in guest memory:
/// big-endian `token`, `nargs`, `nret`, then `nargs` argument cells followed by
/// `nret` return cells, in a 16-cell array, then an 8-byte `rets` pointer.
///
/// prom_init's os-term path fills one with nargs 1, nret 1 and args[0] = the
/// address of the message (reference/linux-guest-facts.md §1.1).
public struct RTASArguments: Hashable, Sendable {
    /// The size of the block in memory: 3 header cells, 16 argument cells, an 8-byte pointer.
    public static let byteCount = 12 + 16 * 4 + 8
    /// The argument array's capacity.
    public static let cellCapacity = 16

    /// The service token from `/rtas/<name>`.
    public var token: UInt32
    /// Input cells.
    public var arguments: [UInt32]
    /// Output cells.
    public var returns: [UInt32]

    /// Builds a block with `nret` zeroed return cells.
    public init(token: UInt32, arguments: [UInt32], returnCount: Int) {
        self.token = token
        self.arguments = arguments
        self.returns = Array(repeating: 0, count: max(0, returnCount))
    }

    /// The bytes to write into guest memory; arguments past the 16-cell array are dropped.
    public var encoded: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        func put(_ v: UInt32) { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        let cells = Array((arguments + returns).prefix(Self.cellCapacity))
        put(token)
        put(UInt32(min(arguments.count, Self.cellCapacity)))
        put(UInt32(min(returns.count, Self.cellCapacity - min(arguments.count, Self.cellCapacity))))
        for i in 0..<Self.cellCapacity { put(i < cells.count ? cells[i] : 0) }
        out += [UInt8](repeating: 0, count: 8)
        return out
    }

    /// Decodes a block; `nil` if `bytes` is shorter than the header or nargs + nret exceeds 16.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= 12 else { return nil }
        func cell(_ i: Int) -> UInt32 {
            let o = i * 4
            guard o + 4 <= bytes.count else { return 0 }
            return UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
        }
        let nargs = Int(cell(1)), nret = Int(cell(2))
        guard nargs <= Self.cellCapacity, nret <= Self.cellCapacity - nargs else { return nil }
        token = cell(0)
        arguments = (0..<nargs).map { cell(3 + $0) }
        returns = (0..<nret).map { cell(3 + nargs + $0) }
    }
}
