public import PowerABI
public import SWIOTLB

/// Why a DMA API call failed; each case names the culprit.
public enum DMAError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel is not running.
    case kernelNotRunning
    /// The SWIOTLB library refused (exhaustion, double unmap, sync past the end, …).
    case swiotlb(SWIOTLBError)
    /// The buffer lies outside guest memory.
    case outOfRange(address: GuestPhysicalAddress, size: Int)
    /// A size that is zero or negative.
    case invalidSize(Int)
    /// No memory for a coherent allocation.
    case allocation(Memblock.AllocationError)
    /// `set_memory_decrypted()` / `set_memory_encrypted()` of a coherent buffer failed.
    case memoryEncryption(MemoryEncryptionError)
    /// `dma_free_coherent()` of an address that is not a live coherent allocation.
    case notCoherent(address: GuestPhysicalAddress)
    /// Bouncing is forced but there is no pool: `swiotlb_tbl_map_single()` prints the
    /// reason (rate-limited) and returns `DMA_MAPPING_ERROR` (`kernel/dma/swiotlb.c:
    /// swiotlb_tbl_map_single (6.1, 6.12)`), or on 5.x panics with it, after which the
    /// kernel is stopped (``LinuxVersion/swiotlbMapPanicsWithoutPool``). 6.1 forces
    /// bouncing only with a pool (``LinuxVersion/forceBounceWithoutPool``).
    case noBouncePool(reason: String)

    /// A sentence naming the culprit.
    public var description: String {
        switch self {
        case .kernelNotRunning: "the kernel is not running"
        case .swiotlb(let e): "swiotlb: \(e)"
        case .outOfRange(let a, let n): "\(n) bytes at \(a) are outside guest memory"
        case .invalidSize(let n): "invalid DMA size \(n)"
        case .allocation(let e): e.description
        case .memoryEncryption(let e): e.description
        case .notCoherent(let a): "\(a) is not a live dma-coherent allocation"
        case .noBouncePool(let why): "no SWIOTLB pool to bounce through: \(why)"
        }
    }

    /// Whether a release of other mappings may let the map succeed: the pool was full
    /// (``SWIOTLBError/exhausted(_:)``) for a request of no more slots than a segment
    /// holds. What a requeued block request (``VirtualBlockDriver``) or a retrying caller
    /// waits on. The pool's used count is taken after its failed search, so "nothing in
    /// use" does not rule it out while other CPUs map: they may have released in between.
    public var releaseMayCure: Bool {
        guard case .swiotlb(.exhausted(let full)) = self else { return false }
        return full.slotsNeeded <= SWIOTLB.segmentSlots
    }
}
