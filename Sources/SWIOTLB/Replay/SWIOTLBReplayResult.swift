/// The outcome of one replayed op, in the order of the input.
public struct SWIOTLBReplayResult: Sendable, Hashable {
    /// The op's index in its scenario (`"i"`).
    public var index: Int
    /// Whether the op was a map (`"op": "map"`) or an unmap.
    public var isMap: Bool
    /// The op's id.
    public var id: UInt64
    /// A map that found slots, or an unmap of a map that had (`"ok"`).
    public var ok: Bool
    /// The bounce address of a successful map (`"tlb_addr"`).
    public var tlbAddress: UInt64?
    /// The pool's used slot count after the op (`"used_after"`).
    public var usedAfter: Int

    /// A result.
    /// The map never returned in Linux (6.1's endless scan); `"hang": true` in JSON.
    public var hang: Bool = false

    public init(index: Int, isMap: Bool, id: UInt64, ok: Bool, tlbAddress: UInt64?, usedAfter: Int) {
        self.index = index
        self.isMap = isMap
        self.id = id
        self.ok = ok
        self.tlbAddress = tlbAddress
        self.usedAfter = usedAfter
    }

    /// The result's line in `svmkit swiotlb replay --json` output (and the oracle's).
    public var json: String {
        var s = "{\"i\": \(index), \"op\": \"\(isMap ? "map" : "unmap")\", \"id\": \(id), \"ok\": \(ok)"
        if let tlbAddress { s += ", \"tlb_addr\": \"\(hex(tlbAddress))\"" }
        if hang { s += ", \"hang\": true" }
        return s + ", \"used_after\": \(usedAfter)}"
    }
}
