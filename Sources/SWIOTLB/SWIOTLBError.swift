/// Everything that can go wrong with a pool, each case naming the culprit.
///
/// Misuse that Linux would turn into silent corruption or a WARN (double unmap, unmap
/// of an address that was never mapped, a sync past a mapping's end) is reported here
/// and the pool is left unchanged.
public enum SWIOTLBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `swiotlb=` numbers were unusable.
    case invalidConfiguration(String)
    /// The region given for the pool cannot hold one.
    case invalidRegion(BounceRegion, reason: String)
    /// The share hook (the guest's `set_memory_decrypted()`) failed for this
    /// page-aligned region; no pool was created.
    case shareFailed(BounceRegion, reason: String)
    /// A mask was not a low mask `2^k - 1` (or 0); `name` says which.
    case invalidMask(name: String, value: UInt64)
    /// A size was zero or negative.
    case invalidSize(Int, operation: SWIOTLBOperation)
    /// The original address range wraps past the end of the address space.
    case originalOutOfRange(original: UInt64, size: Int)
    /// After the min-align offset and the alignment round-up the allocation exceeds one
    /// 256 KiB segment, or its alignment leaves it no room in any segment even of an
    /// empty pool (`swiotlb_max_mapping_size()` gives the caller's limit).
    case mappingTooLarge(size: Int, allocationSize: Int, maximum: Int)
    /// No run of free slots fits (Linux: "swiotlb buffer is full").
    case exhausted(SWIOTLBExhaustion)
    /// Linux 6.1's slot search never returns for this request
    /// (``SWIOTLBAllocatorKind/linux61`` only): the kernel would spin for ever holding
    /// the area's lock. Nothing was mapped.
    case scanHung(SWIOTLBScanHang)
    /// The address is not inside the pool (`is_swiotlb_buffer()` is false).
    case notBounceAddress(UInt64, operation: SWIOTLBOperation)
    /// The address is in the pool but inside no mapping.
    case notMapped(UInt64, operation: SWIOTLBOperation)
    /// The mapping at this address was already unmapped and its slots not reused since:
    /// a double unmap, or a sync after unmap.
    case alreadyUnmapped(UInt64, operation: SWIOTLBOperation)
    /// Unmap was given an address inside a mapping, not the address map returned.
    case notMappingStart(UInt64, mappingAddress: UInt64, operation: SWIOTLBOperation)
    /// Unmap's size differs from the mapped size.
    case sizeMismatch(UInt64, size: Int, mappedSize: Int, operation: SWIOTLBOperation)
    /// A sync range leaves the mapping (starts before it or runs past its end).
    case syncOutOfBounds(UInt64, size: Int, mappingAddress: UInt64, mappedSize: Int, operation: SWIOTLBOperation)
    /// The memory accessor refused a copy.
    case copyFailed(BounceMemoryError, operation: SWIOTLBOperation)

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// A sentence naming the operation, addresses and sizes involved.
    public var description: String {
        switch self {
        case .invalidConfiguration(let why):
            return "invalid swiotlb configuration: \(why)"
        case .invalidRegion(let region, let reason):
            return "cannot make a SWIOTLB pool at \(Self.hex(region.base)) of \(region.size) bytes: \(reason)"
        case .shareFailed(let region, let reason):
            return "sharing the SWIOTLB pool \(region) with the hypervisor failed: \(reason)"
        case .invalidMask(let name, let value):
            return "\(name) \(Self.hex(value)) is not a low mask (2^k - 1)"
        case .invalidSize(let size, let op):
            return "\(op): invalid size \(size)"
        case .originalOutOfRange(let original, let size):
            return "map: original buffer at \(Self.hex(original)) of \(size) bytes wraps past the end of the address space"
        case .mappingTooLarge(let size, let allocationSize, let maximum):
            return "map: mapping of \(size) bytes needs \(allocationSize) bytes after alignment, "
                + "more than one \(SWIOTLB.segmentSize)-byte segment (max mapping size \(maximum))"
        case .exhausted(let details):
            return details.description
        case .scanHung(let hang):
            return hang.description
        case .notBounceAddress(let address, let op):
            return "\(op): \(Self.hex(address)) is not in the SWIOTLB pool"
        case .notMapped(let address, let op):
            return "\(op): \(Self.hex(address)) is not inside any mapping"
        case .alreadyUnmapped(let address, let op):
            return op == .unmap
                ? "unmap: double unmap of \(Self.hex(address))"
                : "\(op): \(Self.hex(address)) belongs to a mapping that was already unmapped"
        case .notMappingStart(let address, let start, let op):
            return "\(op): \(Self.hex(address)) is inside the mapping at \(Self.hex(start)), not its start"
        case .sizeMismatch(let address, let size, let mapped, let op):
            return "\(op): size \(size) for the mapping at \(Self.hex(address)) differs from the mapped size \(mapped)"
        case .syncOutOfBounds(let address, let size, let start, let mapped, let op):
            return "\(op): \(size) bytes at \(Self.hex(address)) leave the mapping at \(Self.hex(start)) "
                + "of \(mapped) bytes (ends at \(Self.hex(start &+ UInt64(mapped))))"
        case .copyFailed(let error, let op):
            return "\(op): bounce copy failed: \(error)"
        }
    }
}
