/// Receives every map and unmap a pool performs, in the order the pool performed them,
/// so that a run (a boot, a soak) can be written out and replayed later, e.g. by
/// `svmkit swiotlb advise` to find the smallest pool that would have sufficed.
///
/// The pool calls ``record(_:)`` on the mapping thread, outside its area locks; an
/// implementation used from several CPUs serializes itself (with several threads the
/// order between CPUs is the order the recorder saw). Recording costs one `nil` check
/// per call when no recorder is installed.
public protocol SWIOTLBTraceRecorder: AnyObject, Sendable {
    /// Called after each map (successful or not) and at the start of each unmap.
    func record(_ event: SWIOTLBTraceEvent)
}

/// One pool call, as a ``SWIOTLBTraceRecorder`` sees it.
public enum SWIOTLBTraceEvent: Sendable, Hashable {
    /// A map request and its outcome.
    case map(Map)
    /// An unmap of the mapping `map` returned `address` for.
    case unmap(address: UInt64, size: Int)

    /// A map request (`swiotlb_tbl_map_single()`'s arguments) and its outcome.
    public struct Map: Sendable, Hashable {
        /// `orig_addr`.
        public let original: UInt64
        /// `mapping_size`.
        public let size: Int
        /// `alloc_align_mask`.
        public let allocAlignMask: UInt64
        /// The device's `min_align_mask` and segment boundary.
        public let device: DMADevice
        /// The CPU hint.
        public let cpu: Int
        /// The bounce address, or `nil` when the pool had no room.
        public let address: UInt64?

        /// Makes an event.
        public init(original: UInt64, size: Int, allocAlignMask: UInt64, device: DMADevice, cpu: Int, address: UInt64?) {
            self.original = original
            self.size = size
            self.allocAlignMask = allocAlignMask
            self.device = device
            self.cpu = cpu
            self.address = address
        }
    }
}
