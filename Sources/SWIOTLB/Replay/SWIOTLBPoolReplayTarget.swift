/// A ``SWIOTLBPool`` as the replayer drives it: the pool's own replay conformance, plus
/// ``replayLastMapHung`` for a ``SWIOTLBAllocatorKind/linux61`` pool whose map threw
/// ``SWIOTLBError/scanHung(_:)`` (the pool itself keeps no per-call state).
final class SWIOTLBPoolReplayTarget: SWIOTLBReplayTarget {
    let pool: SWIOTLBPool
    private(set) var lastMapHung = false

    init(_ pool: SWIOTLBPool) { self.pool = pool }

    func replayMap(_ request: SWIOTLBReplayMap) -> UInt64? {
        lastMapHung = false
        do {
            return try pool.mapSlots(
                original: request.origAddr, size: request.size, attributes: [.noWarn],
                allocAlignMask: request.allocAlignMask, device: request.device, cpu: request.cpu, copyIn: false)
        } catch {
            if case .scanHung = error { lastMapHung = true }
            return nil
        }
    }

    func replayUnmap(address: UInt64, size: Int) { pool.replayUnmap(address: address, size: size) }

    var replayUsedSlots: Int { pool.replayUsedSlots }

    var replayLastMapHung: Bool { lastMapHung }
}
