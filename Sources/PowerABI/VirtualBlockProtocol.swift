/// The SVMKit virtual block device protocol: the one definition of the queue layout,
/// operations, statuses and `H_VIO_SIGNAL` modes, used by both sides (the guest's
/// `VirtualBlockDriver` and the hypervisor's `VirtualBlockDevice`), as the LPPACA and
/// DTL layouts are.
///
/// - **Discovery.** A `/vdevice/v-blk@<unit>` node with `compatible =
///   "svmkit,virtual-block"`, `reg = <unit address>` and `svmkit,sectors = <u64>`
///   (or the unit address given to the driver directly).
/// - **Queue.** One 64 KiB page from `dma_alloc_coherent()` (shared with the
///   hypervisor on a secure guest, owner `dma-coherent`), big-endian:
///
///   | offset | field |
///   |---|---|
///   | 0x00 | be32 magic `"VBLK"` (0x56424C4B) |
///   | 0x04 | be32 version (1) |
///   | 0x08 | be32 descriptor count N |
///   | 0x10 | be64 producer: descriptors made available by the guest (ever) |
///   | 0x18 | be64 consumer: descriptors completed by the device (ever) |
///   | 0x40 | N descriptors of 32 bytes; descriptor i sits in slot i mod N |
///
///   A descriptor: u8 operation (1 read: device → memory, 2 write: memory → device),
///   u8 status (0 pending, 1 done, 2 sector range outside the disk, 3 the device could
///   not reach the buffer, 4 malformed), be16 reserved, be32 length (a multiple of 512,
///   at most 256 KiB), be64 first sector, be64 DMA address of the data (a bounce
///   address on a secure guest), be64 tag (the driver's, echoed).
/// - **Doorbell.** `H_VIO_SIGNAL` (hcall 0x104: r4 = unit address, r5 = mode), which
///   the Ultravisor reflects with r3–r5 intact. PAPR defines modes 0 and 1 (disable /
///   enable the device's interrupts); SVMKit adds: mode 2 = set the queue (the queue's
///   page-aligned guest-physical address is in the upper bits: r5 = gpa | 2), mode 3
///   = kick (process every descriptor between consumer and producer, synchronously,
///   before the hcall returns), mode 4 = reset (forget the queue). Answers:
///   `H_SUCCESS`; `H_PARAMETER` for a unit with no block device, an unknown mode, a
///   queue the hypervisor cannot read (e.g. not shared: the isolation violation is
///   recorded), or a kick with no queue.
/// - **DMA.** The device touches guest memory only through the hypervisor's
///   accessor, so data buffers must be in shared (or, on a normal guest, normal) pages.
public enum VirtualBlockProtocol {
    /// `compatible` of the device node.
    public static let compatible = "svmkit,virtual-block"
    /// The node property holding the disk size in sectors (be64).
    public static let sectorsProperty = "svmkit,sectors"
    /// Bytes per sector.
    public static let sectorSize = 512
    /// Queue magic, "VBLK".
    public static let magic: UInt32 = 0x5642_4C4B
    /// Protocol version.
    public static let version: UInt32 = 1
    /// Offset of the descriptor count.
    public static let countOffset = 0x08
    /// Offset of the producer index.
    public static let producerOffset = 0x10
    /// Offset of the consumer index.
    public static let consumerOffset = 0x18
    /// Offset of descriptor 0.
    public static let descriptorsOffset = 0x40
    /// Bytes per descriptor.
    public static let descriptorSize = 32
    /// Offset of a descriptor's status byte.
    public static let statusOffset = 1
    /// Descriptors in one 64 KiB queue page.
    public static let descriptorCount = (65536 - descriptorsOffset) / descriptorSize
    /// The largest transfer one descriptor may carry (a SWIOTLB segment).
    public static let maximumTransfer = 256 * 1024

    /// `H_VIO_SIGNAL` modes.
    public enum Mode: UInt64, Sendable {
        /// PAPR: disable the device's interrupts.
        case disableInterrupts = 0
        /// PAPR: enable them.
        case enableInterrupts = 1
        /// SVMKit: set the queue page (gpa | 2).
        case setQueue = 2
        /// SVMKit: process the queue.
        case kick = 3
        /// SVMKit: forget the queue.
        case reset = 4
    }

    /// Descriptor operations.
    public enum Operation: UInt8, Sendable {
        /// Device → memory.
        case read = 1
        /// Memory → device.
        case write = 2
    }

    /// Descriptor statuses.
    public enum Status: UInt8, Sendable, CustomStringConvertible {
        /// Not processed yet.
        case pending = 0
        /// Done.
        case done = 1
        /// The sector range lies outside the disk.
        case outOfRange = 2
        /// The device could not reach the data buffer (an isolation violation).
        case dmaError = 3
        /// Malformed descriptor.
        case malformed = 4

        /// In words.
        public var description: String {
            switch self {
            case .pending: "pending"
            case .done: "done"
            case .outOfRange: "sector range outside the disk"
            case .dmaError: "the device could not reach the buffer"
            case .malformed: "malformed descriptor"
            }
        }
    }
}
