import SWIOTLB

/// A block request Linux would requeue for ever: its data cannot be mapped, the driver's
/// `queue_rq()` returns `BLK_STS_RESOURCE` each time (`drivers/block/virtio_blk.c:
/// virtio_queue_rq`, `drivers/nvme/host/pci.c: nvme_queue_rq`, 6.1 and 6.12), and blk-mq
/// puts it back on the dispatch list and reruns the queue, every
/// `BLK_MQ_RESOURCE_DELAY` (3 ms) when no completion restarts it (`block/blk-mq.c:
/// blk_mq_dispatch_rq_list (6.1, 6.12)`). Nothing fails: the task that submitted it
/// sleeps in `io_schedule()` until the hung-task detector prints "INFO: task …:…
/// blocked for more than 120 seconds." (`kernel/hung_task.c: check_hung_task (6.1,
/// 6.12)`, `CONFIG_DEFAULT_HUNG_TASK_TIMEOUT` 120). SVMKit stops at the first map that
/// cannot succeed and reports this instead (``BlockIOError/stalled(_:)``).
public struct BlockIOStall: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Why the map can never succeed.
    public enum Reason: String, Hashable, Sendable, Codable {
        /// The transfer does not fit in any run of free slots even of an empty pool (it
        /// exceeds one 256 KiB segment after its `min_align_mask` offset, or its alignment
        /// leaves it no room): Linux's search fails with "swiotlb buffer is full"
        /// whatever is released. SVMKit's 6.12 pool calls this `mappingTooLarge`; 6.1's and
        /// 5.x's fail it as Linux's do, as exhausted with more slots needed than a
        /// segment holds, or with nothing in use.
        case neverFits = "never-fits"
        /// Bouncing is forced but there is no pool: `swiotlb_tbl_map_single()` returns
        /// `DMA_MAPPING_ERROR` on every try (`kernel/dma/swiotlb.c (6.1, 6.12)`).
        case noPool = "no-pool"
        /// The pool is full and no other mapping was released: the request was alone
        /// (the boot's round trip), or whoever holds the slots did not release them
        /// within the driver's ``VirtualBlockDriver/requeueTimeout``.
        case nothingReleased = "nothing-released"
    }

    /// Why.
    public let reason: Reason
    /// Which driver (`virtio` or `nvme`).
    public let disk: VirtualDiskKind
    /// The device's unit address.
    public let unitAddress: UInt32
    /// `write` or `read`.
    public let operation: String
    /// The Linux CPU that submitted the request.
    public let cpu: Int
    /// The request's first sector.
    public let sector: UInt64
    /// The request's size in bytes.
    public let byteCount: Int
    /// The transfer whose map failed (at most the driver's maximum transfer).
    public let transferBytes: Int
    /// Its first sector.
    public let transferSector: UInt64
    /// Slots of the pool it needed (0 when there is no pool).
    public let slotsNeeded: Int
    /// Slots in the default pool (0 when there is none).
    public let poolSlots: Int
    /// Slots in use when the map failed.
    public let usedSlots: Int
    /// The longest run of free slots then.
    public let largestFreeRun: Int
    /// Times the request was requeued (`BLK_STS_RESOURCE`) before SVMKit gave up.
    public let requeues: Int
    /// Host seconds SVMKit waited for another mapping's release (0 when alone).
    public let waitedSeconds: Double

    /// Makes a stall record.
    public init(
        reason: Reason, disk: VirtualDiskKind, unitAddress: UInt32, operation: String, cpu: Int, sector: UInt64,
        byteCount: Int, transferBytes: Int, transferSector: UInt64, slotsNeeded: Int, poolSlots: Int, usedSlots: Int,
        largestFreeRun: Int, requeues: Int, waitedSeconds: Double
    ) {
        self.reason = reason
        self.disk = disk
        self.unitAddress = unitAddress
        self.operation = operation
        self.cpu = cpu
        self.sector = sector
        self.byteCount = byteCount
        self.transferBytes = transferBytes
        self.transferSector = transferSector
        self.slotsNeeded = slotsNeeded
        self.poolSlots = poolSlots
        self.usedSlots = usedSlots
        self.largestFreeRun = largestFreeRun
        self.requeues = requeues
        self.waitedSeconds = waitedSeconds
    }

    /// The `swiotlb=` line that would let the request through when a bigger pool can:
    /// twice the pool, or enough for what was in use plus this transfer, in whole
    /// 128-slot segments (`nil` for ``Reason/neverFits``, which no pool size cures).
    public var suggestedSwiotlb: String? {
        guard reason != .neverFits else { return nil }
        let segment = SWIOTLB.segmentSlots
        let need = max(2 * poolSlots, usedSlots + slotsNeeded, segment)
        return "swiotlb=\((need + segment - 1) / segment * segment),force"
    }

    /// The diagnosis: the request, the pool, what Linux does, and the fix.
    public var description: String {
        let request =
            "I/O stall: the \(byteCount)-byte \(operation) at sector \(sector) on \(disk.displayName) unit "
            + "0x\(String(unitAddress, radix: 16)) (CPU \(cpu)) cannot map its \(transferBytes)-byte transfer at sector "
            + "\(transferSector)"
        let pool =
            poolSlots == 0
            ? "there is no SWIOTLB pool though bouncing is forced"
            : "the SWIOTLB pool has \(poolSlots) slots (\(poolSlots * SWIOTLB.slotSize >> 10) KiB), \(usedSlots) in use, "
                + "largest free run \(largestFreeRun); the transfer needs \(slotsNeeded)"
        let why: String
        switch reason {
        case .neverFits: why = "it fits in no run of free slots even of an empty pool"
        case .noPool: why = "every map fails"
        case .nothingReleased:
            why =
                waitedSeconds == 0
                ? "nothing else is in flight to release slots"
                : "no mapping was released in \((waitedSeconds * 10).rounded() / 10) s"
        }
        let linux =
            "Linux's \(disk == .nvme ? "nvme_queue_rq()" : "virtio_queue_rq()") returns BLK_STS_RESOURCE and blk-mq "
            + "requeues the request for ever (every 3 ms), so the task hangs and after 120 s the kernel prints "
            + "\"INFO: task …:… blocked for more than 120 seconds.\" (after \(requeues) requeue(s) here)"
        let fix: String
        switch reason {
        case .neverFits:
            fix = "a bigger swiotlb= does not help: the driver must keep transfers within dma_max_mapping_size()"
        case .noPool, .nothingReleased:
            fix = "give the guest a bigger bounce pool, e.g. \(suggestedSwiotlb ?? "swiotlb=force") on the kernel command line"
        }
        return "\(request): \(pool); \(why). \(linux). Fix: \(fix)."
    }
}
