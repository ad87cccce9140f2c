import SWIOTLB

extension SWIOTLBReplayTrace {
    /// The same streams with every map's `min_align_mask` cleared: what a device without
    /// one (virtio-blk, or any device on 5.4, which has no such field) asks for.
    func withoutMinAlignMask() -> SWIOTLBReplayTrace {
        SWIOTLBReplayTrace(
            scenarios: scenarios.map { s in
                SWIOTLBReplayScenario(
                    name: s.name, pool: s.pool,
                    ops: s.ops.map { op in
                        guard case .map(var m) = op else { return op }
                        m.minAlignMask = 0
                        return .map(m)
                    })
            })
    }
}
