/// The pool call an error came from, so that misuse reports name it.
public enum SWIOTLBOperation: String, Sendable, Hashable, CustomStringConvertible {
    /// ``SWIOTLBPool/map(original:size:direction:attributes:allocAlignMask:device:cpu:)``
    /// (`swiotlb_tbl_map_single()`).
    case map
    /// ``SWIOTLBPool/unmap(_:size:direction:attributes:)`` (`swiotlb_tbl_unmap_single()`).
    case unmap
    /// ``SWIOTLBPool/syncForDevice(_:size:direction:)`` (`swiotlb_sync_single_for_device()`).
    case syncForDevice
    /// ``SWIOTLBPool/syncForCPU(_:size:direction:)`` (`swiotlb_sync_single_for_cpu()`).
    case syncForCPU

    /// The Swift method name.
    public var description: String { rawValue }
}
