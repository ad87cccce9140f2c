/// What a replay runs its requests against: an allocator that maps and unmaps like
/// `swiotlb_tbl_map_single()` / `swiotlb_tbl_unmap_single()` and reports
/// `mem_used()`. ``SWIOTLBPool`` is one (either allocator); tests substitute doubles.
public protocol SWIOTLBReplayTarget: AnyObject {
    /// Maps one request; the bounce address, or `nil` when Linux would refuse it
    /// (too large, an alignment no slot can meet, no room).
    func replayMap(_ request: SWIOTLBReplayMap) -> UInt64?
    /// Unmaps the mapping `replayMap` returned `address` for (`size` as mapped).
    func replayUnmap(address: UInt64, size: Int)
    /// `mem_used()`: the slots held by mappings now, summed over the areas.
    var replayUsedSlots: Int { get }
    /// Whether the last `replayMap` would never have returned in Linux (6.1's endless
    /// scan, ``SWIOTLBLinux61Pool``); false by default.
    var replayLastMapHung: Bool { get }
}

extension SWIOTLBReplayTarget {
    /// No target but 6.1's model hangs.
    public var replayLastMapHung: Bool { false }
}
