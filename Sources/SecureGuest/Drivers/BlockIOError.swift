public import PEFMachine
public import PowerABI

/// Why a virtual block device operation failed; each case names the device, the
/// request or the address.
public enum BlockIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kernel is not running.
    case kernelNotRunning
    /// No virtual block device was found (why, in words).
    case noDevice(String)
    /// A byte count that is not a positive multiple of 512.
    case invalidLength(Int)
    /// The buffer lies outside guest memory.
    case outOfRange(address: GuestPhysicalAddress, byteCount: Int)
    /// Setting up the queue with the device failed.
    case setup(unitAddress: UInt32, status: HypervisorStatus)
    /// Mapping, unmapping or allocating DMA memory failed (a map that finds the bounce
    /// pool full is not an error: the request is requeued, ``stalled(_:)`` if it never can
    /// be mapped).
    case dma(DMAError)
    /// The request's data can never be mapped, so Linux would requeue it for ever and
    /// the task would hang (``BlockIOStall`` says why, and the fix).
    case stalled(BlockIOStall)
    /// The doorbell hcall failed.
    case kick(unitAddress: UInt32, status: HypervisorStatus)
    /// The device failed a request.
    case request(sector: UInt64, byteCount: Int, dmaAddress: UInt64, status: VirtualBlockProtocol.Status)
    /// The driver could not read or write its queue page.
    case queue(MemoryAccessError)

    /// A sentence naming the culprit.
    public var description: String {
        switch self {
        case .kernelNotRunning: "the kernel is not running"
        case .noDevice(let why): "no virtual block device: \(why)"
        case .invalidLength(let n): "\(n) bytes is not a positive multiple of 512"
        case .outOfRange(let a, let n): "\(n) bytes at \(a) are outside guest memory"
        case .setup(let u, let s): "setting up the queue of unit 0x\(String(u, radix: 16)) failed with \(s)"
        case .dma(let e): "DMA: \(e)"
        case .stalled(let stall): stall.description
        case .kick(let u, let s): "H_VIO_SIGNAL kick of unit 0x\(String(u, radix: 16)) failed with \(s)"
        case .request(let sector, let n, let dma, let status):
            "request of \(n) bytes at sector \(sector) (DMA address 0x\(String(dma, radix: 16))) failed: \(status)"
        case .queue(let e): "queue page: \(e)"
        }
    }
}

/// Counters of a ``VirtualBlockDriver``.
public struct BlockIOStatistics: Hashable, Sendable {
    /// Read and write calls.
    public var requests = 0
    /// Descriptors submitted.
    public var descriptors = 0
    /// Doorbells rung.
    public var kicks = 0
    /// Bytes read from the disk.
    public var bytesRead: UInt64 = 0
    /// Bytes written to the disk.
    public var bytesWritten: UInt64 = 0
    /// Transfers whose map found the bounce pool full: each a `BLK_STS_RESOURCE` from
    /// `queue_rq()`, requeued and retried once mappings were released (not failures).
    public var requeues = 0

    /// All zero.
    public init() {}
}
