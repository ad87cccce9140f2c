import DeviceTree
import PEFMachine
import PowerABI
import SWIOTLB
import Locking

/// The guest driver of SVMKit's virtual block device (protocol in
/// ``VirtualBlockProtocol``), written the way a Linux block driver for a
/// paravirtual device is: a descriptor queue in `dma_alloc_coherent()` memory, data
/// buffers mapped with `dma_map_single()` (so on a secure guest every transfer
/// bounces through the shared SWIOTLB pool), a doorbell hcall, and unmapping after
/// completion (which copies read data back out of the bounce buffers).
///
/// Requests are split into transfers of at most ``maximumTransfer`` bytes and
/// submitted in batches of up to 64 descriptors per doorbell, fewer when the bounce
/// pool is short. Calls are serialized. ``kind`` says which Linux driver this is
/// (``VirtualDiskKind``): virtio-blk, or NVMe with its `min_align_mask`.
///
/// A map that finds the bounce pool full does not fail the request, as in Linux: a
/// failed `dma_map_page()` makes `vring_map_one_sg()` and `virtqueue_add_sgs()` return
/// `-ENOMEM`, which `virtblk_fail_to_queue()` turns into `BLK_STS_RESOURCE`
/// (`drivers/virtio/virtio_ring.c: virtqueue_add_split`, `drivers/block/virtio_blk.c:
/// virtio_queue_rq (6.1, 6.12)`); NVMe's `nvme_setup_prp_simple()`,
/// `nvme_setup_sgl_simple()` and `nvme_map_data()` return `BLK_STS_RESOURCE` for a failed
/// `dma_map_bvec()` or `dma_map_sgtable()` (only P2P's `-EREMOTEIO` is an error,
/// `BLK_STS_TARGET`; `drivers/nvme/host/pci.c (6.1, 6.12)`). blk-mq then requeues the
/// request and reruns the queue when a request completes or after
/// `BLK_MQ_RESOURCE_DELAY` (`block/blk-mq.c: blk_mq_dispatch_rq_list (6.1, 6.12)`). So:
/// transfers already mapped are submitted and the refused one is mapped again after
/// they complete; a request with nothing of its own in flight waits for another CPU's
/// unmap (``requeueTimeout``) and retries. Each refusal counts in
/// ``BlockIOStatistics/requeues``. A request that can never be mapped (it fits in no
/// empty pool, there is no pool, or nothing releases a slot) is Linux's endless requeue:
/// ``BlockIOError/stalled(_:)``, never a loop. Both drivers map without
/// `DMA_ATTR_NO_WARN`, so each refusal prints "swiotlb buffer is full", rate-limited.
/// Other map errors (SVMKit's own argument checks, a refused copy) stay errors, and 6.1's
/// endless slot search stays a hang (``SWIOTLBScanHang``).
public final class VirtualBlockDriver: Sendable {
    /// The kernel the driver runs in.
    public let kernel: GuestKernel
    /// Which Linux block driver this models (`--disk`).
    public let kind: VirtualDiskKind
    /// The largest transfer one descriptor carries: 256 KiB (one SWIOTLB segment, the
    /// device's limit) for virtio-blk; for NVMe `max_hw_sectors`, the smallest of
    /// `NVME_MAX_KB_SZ << 1`, `dma_max_mapping_size() >> 9` and the controller's MDTS
    /// (the device's 256 KiB) (`drivers/nvme/host/pci.c: nvme_reset_work (6.1)`,
    /// `nvme_pci_alloc_dev (6.12)`, `drivers/nvme/host/core.c: nvme_init_identify (6.1)`, MDTS):
    /// 252 KiB when bouncing is forced (``GuestKernel/dmaMaxMappingSize(device:)``).
    public let maximumTransfer: Int
    /// The device's DMA parameters (``VirtualDiskKind/dmaDevice(linux:)``).
    public let dmaDevice: DMADevice
    /// The device's unit address.
    public let unitAddress: UInt32
    /// The disk size in sectors, if the device tree said.
    public let sectorCount: UInt64?
    /// The queue page (a dma-coherent allocation).
    public let queueAddress: GuestPhysicalAddress
    /// How long (host time) a request requeued because the bounce pool is full, with
    /// nothing of its own in flight, waits for another CPU to release a mapping before
    /// SVMKit reports the I/O stalled (Linux waits for ever). Zero: the caller is alone,
    /// nothing else will release, so a full pool is a stall at once (the boot's round trip).
    public let requeueTimeout: Duration

    /// The default ``requeueTimeout``: 10 s.
    public static let defaultRequeueTimeout: Duration = .seconds(10)

    private struct QueueState: Sendable {
        var producer: UInt64 = 0
        var nextTag: UInt64 = 1
        var statistics = BlockIOStatistics()
        var bugsFired: Set<String> = []
    }

    private let queue: Lock<QueueState>

    /// Transfers per doorbell, at most.
    public static let batchLimit = 64

    init(
        kernel: GuestKernel, kind: VirtualDiskKind, maximumTransfer: Int, unitAddress: UInt32, sectorCount: UInt64?,
        queueAddress: GuestPhysicalAddress, requeueTimeout: Duration = VirtualBlockDriver.defaultRequeueTimeout
    ) {
        self.kernel = kernel
        self.requeueTimeout = max(requeueTimeout, .zero)
        self.kind = kind
        self.maximumTransfer = maximumTransfer
        self.dmaDevice = kind.dmaDevice(linux: kernel.options.linux)
        self.unitAddress = unitAddress
        self.sectorCount = sectorCount
        self.queueAddress = queueAddress
        self.queue = Lock(QueueState())
    }

    /// Counters so far.
    public var statistics: BlockIOStatistics { queue.withLock { $0.statistics } }

    /// Writes `byteCount` bytes from the guest buffer at `buffer` to the disk from
    /// `sector` on, as Linux CPU `cpu`.
    public func write(sector: UInt64, from buffer: GuestPhysicalAddress, byteCount: Int, cpu: Int = 0)
        throws(BlockIOError)
    {
        try transfer(.write, sector: sector, buffer: buffer.rawValue, byteCount: byteCount, cpu: cpu)
    }

    /// Reads `byteCount` bytes from the disk from `sector` on into the guest buffer at
    /// `buffer`, as Linux CPU `cpu`.
    public func read(sector: UInt64, into buffer: GuestPhysicalAddress, byteCount: Int, cpu: Int = 0)
        throws(BlockIOError)
    {
        try transfer(.read, sector: sector, buffer: buffer.rawValue, byteCount: byteCount, cpu: cpu)
    }

    private struct Inflight {
        let slot: UInt64
        let dma: UInt64
        let sector: UInt64
        let length: Int
    }

    private func transfer(
        _ op: VirtualBlockProtocol.Operation, sector: UInt64, buffer: UInt64, byteCount: Int, cpu: Int
    ) throws(BlockIOError) {
        guard kernel.phase == .running else { throw .kernelNotRunning }
        guard byteCount > 0, byteCount % VirtualBlockProtocol.sectorSize == 0 else { throw .invalidLength(byteCount) }
        guard kernel.isInRAM(buffer, count: UInt64(byteCount)) else {
            throw .outOfRange(address: GuestPhysicalAddress(buffer), byteCount: byteCount)
        }
        try queue.withLock { (state: inout QueueState) throws(BlockIOError) in
            try run(op, sector: sector, buffer: buffer, byteCount: byteCount, cpu: cpu, state: &state)
        }
    }

    /// One request, with the queue lock held (nothing the driver calls re-enters it).
    private func run(
        _ op: VirtualBlockProtocol.Operation, sector: UInt64, buffer: UInt64, byteCount: Int, cpu: Int,
        state: inout QueueState
    ) throws(BlockIOError) {
        let direction: DMADirection = op == .write ? .toDevice : .fromDevice
        let vcpu = kernel.processor(cpu)
        let bugs = kernel.options.bugs
        state.statistics.requests += 1
        var offset = 0
        var requeues = 0
        while offset < byteCount {
            // Map as many transfers as fit (in the batch limit and in the pool).
            var batch: [Inflight] = []
            mapping: while offset < byteCount, batch.count < Self.batchLimit {
                let length = min(maximumTransfer, byteCount - offset)
                let released = kernel.bounceReleaseCount
                let dma: UInt64
                do {
                    // virtio-blk: dma_map_page() from vring_map_one_sg(); NVMe: the
                    // request's one physical segment through dma_map_bvec()
                    // (nvme_setup_prp_simple/nvme_setup_sgl_simple, 6.1 and 6.12), the
                    // same dma_map_page_attrs() with the device's min_align_mask. Neither
                    // passes DMA_ATTR_NO_WARN. (NVMe requests over two controller pages take
                    // nvme_setup_sgl_simple() because the controller supports SGLs, as
                    // QEMU's nvme advertises; without SGLs they would go through
                    // dma_map_sgtable(DMA_ATTR_NO_WARN) and print nothing.)
                    dma = try kernel.dmaMapSingle(
                        GuestPhysicalAddress(buffer + UInt64(offset)), size: length, direction: direction,
                        device: dmaDevice, cpu: cpu)
                } catch {
                    let transferSector = sector + UInt64(offset / VirtualBlockProtocol.sectorSize)
                    func stall(_ reason: BlockIOStall.Reason, waited: Duration = .zero) -> BlockIOError {
                        .stalled(
                            self.stall(
                                reason, error: error, op: op, cpu: cpu, sector: sector, byteCount: byteCount,
                                transferBytes: length, transferSector: transferSector, requeues: requeues, waited: waited))
                    }
                    // A map that stopped the kernel (5.x's panic in swiotlb_tbl_map_single()
                    // with no pool) returns nothing to requeue: report the error itself.
                    let status: QueueStatus =
                        kernel.phase == .running ? Self.queueStatus(after: error, alone: requeueTimeout == .zero) : .error
                    switch status {
                    case .error:
                        unmapAll(batch, direction: direction)
                        throw .dma(error)
                    case .resourceForever(let reason):
                        // BLK_STS_RESOURCE on every rerun: Linux's request never completes.
                        requeues += 1
                        state.statistics.requeues += 1
                        unmapAll(batch, direction: direction)
                        throw stall(reason)
                    case .resource:
                        requeues += 1
                        state.statistics.requeues += 1
                        // Earlier transfers are mapped: submit them; this one is rerun
                        // when they complete (blk-mq's SCHED_RESTART).
                        if !batch.isEmpty { break mapping }
                        // Nothing of ours in flight: rerun when another CPU unmaps.
                        if requeueTimeout > .zero, kernel.waitForBounceRelease(since: released, timeout: requeueTimeout) {
                            continue mapping
                        }
                        throw stall(.nothingReleased, waited: requeueTimeout)
                    }
                }
                let slot = state.producer + UInt64(batch.count)
                batch.append(
                    Inflight(
                        slot: slot, dma: dma, sector: sector + UInt64(offset / VirtualBlockProtocol.sectorSize),
                        length: length))
                offset += length
            }
            // Deliberate bugs, once each.
            if let first = batch.first, let pool = kernel.swiotlbPool, pool.contains(first.dma) {
                if bugs.contains(.unshareBouncePageWhileMapped), state.bugsFired.insert("unshare").inserted {
                    kernel.printk("SVMKit bug: unsharing the bounce page under a live DMA mapping")
                    try? kernel.setMemoryEncrypted(
                        GuestPhysicalAddress(first.dma & ~PageSize.offsetMask), pageCount: 1, callSite: "virtual block driver (bug)", cpu: cpu)
                }
                if bugs.contains(.syncPastMappingEnd), state.bugsFired.insert("sync").inserted {
                    kernel.printk("SVMKit bug: syncing one sector past the end of a mapping")
                    try? kernel.dmaSyncSingleForDevice(
                        first.dma, size: first.length + VirtualBlockProtocol.sectorSize, direction: direction)
                }
            }
            // Descriptors, producer index, doorbell.
            do {
                for item in batch {
                    let tag = state.nextTag
                    state.nextTag += 1
                    try vcpu.write(
                        at: descriptorAddress(item.slot),
                        bytes: Self.descriptor(op, length: item.length, sector: item.sector, dma: item.dma, tag: tag),
                        purpose: "virtual block descriptor")
                }
                state.producer += UInt64(batch.count)
                try vcpu.writeBigEndian(
                    at: GuestPhysicalAddress(queueAddress.rawValue + UInt64(VirtualBlockProtocol.producerOffset)),
                    state.producer, purpose: "virtual block producer index")
            } catch {
                unmapAll(batch, direction: direction)
                throw .queue(error)
            }
            state.statistics.descriptors += batch.count
            state.statistics.kicks += 1
            let kick = HypervisorStatus(
                register: vcpu.hypercall(.vioSignal, [UInt64(unitAddress), VirtualBlockProtocol.Mode.kick.rawValue]).r3)
            // Completion: statuses, then unmap (which copies read data back).
            var failure: BlockIOError?
            if kick != .success { failure = .kick(unitAddress: unitAddress, status: kick) }
            for item in batch {
                let raw = (try? vcpu.read(at: descriptorAddress(item.slot), count: 2, purpose: "virtual block status"))?
                    .last ?? 0
                let status = VirtualBlockProtocol.Status(rawValue: raw) ?? .malformed
                if status != .done, failure == nil {
                    failure = .request(sector: item.sector, byteCount: item.length, dmaAddress: item.dma, status: status)
                    if status == .dmaError {
                        let address = GuestPhysicalAddress(item.dma)  // dma_addr_t, 1:1 with guest-physical
                        let region = kernel.memblock?.region(containing: address)?.purpose
                        kernel.record(
                            GuestFault(
                                kind: .dmaFailed, address: address,
                                owner: region.flatMap { SharedPageOwner(memblockPurpose: $0) }, region: region,
                                culprit: "the device could not reach the DMA buffer of sector \(item.sector)",
                                detail: "unit 0x\(String(unitAddress, radix: 16)): \(status)"))
                    }
                }
            }
            for (i, item) in batch.enumerated() {
                do {
                    try kernel.dmaUnmapSingle(item.dma, size: item.length, direction: direction)
                } catch {
                    if failure == nil { failure = .dma(error) }
                }
                if i == 0, bugs.contains(.doubleUnmap), state.bugsFired.insert("double").inserted {
                    kernel.printk("SVMKit bug: unmapping a bounce buffer twice")
                    try? kernel.dmaUnmapSingle(item.dma, size: item.length, direction: direction)
                }
            }
            if let failure { throw failure }
            let done = UInt64(batch.reduce(0) { $0 + $1.length })
            if op == .write { state.statistics.bytesWritten += done } else { state.statistics.bytesRead += done }
        }
    }

    /// What `queue_rq()` returns for a request whose data map failed with `error`.
    enum QueueStatus: Equatable {
        /// `BLK_STS_RESOURCE`: the pool is full now; requeue and retry.
        case resource
        /// `BLK_STS_RESOURCE` on every retry: the map can never succeed.
        case resourceForever(BlockIOStall.Reason)
        /// Not a `dma_mapping_error()` in Linux (SVMKit's argument checks, a refused
        /// copy, 6.1's hang): reported as the error it is.
        case error
    }

    /// Both drivers turn any `dma_mapping_error()` into `BLK_STS_RESOURCE`
    /// (``VirtualBlockDriver``); which of SVMKit's errors are such failures, and which of
    /// those no release can cure. `alone`: no other CPU maps through the pool (the
    /// driver's ``requeueTimeout`` is zero).
    static func queueStatus(after error: DMAError, alone: Bool) -> QueueStatus {
        switch error {
        // More than a segment never fits (6.1's and 5.x's search fails such a map as
        // exhausted: swiotlb_do_find_slots (6.1)); nor does what an empty pool refused. The
        // pool counts its used slots after the failed search, so only a caller that is
        // alone knows the pool was empty: with other CPUs mapping, they may have released
        // everything in between, and their release wakes the requeued request.
        case .swiotlb(.exhausted(let full)):
            !error.releaseMayCure || (alone && full.usedSlots == 0) ? .resourceForever(.neverFits) : .resource
        case .swiotlb(.mappingTooLarge): .resourceForever(.neverFits)
        case .noBouncePool: .resourceForever(.noPool)
        default: .error
        }
    }

    /// The stall record of a transfer whose map failed with `error`.
    private func stall(
        _ reason: BlockIOStall.Reason, error: DMAError, op: VirtualBlockProtocol.Operation, cpu: Int, sector: UInt64,
        byteCount: Int, transferBytes: Int, transferSector: UInt64, requeues: Int, waited: Duration
    ) -> BlockIOStall {
        let pool = kernel.swiotlbPool
        let statistics = pool?.statistics
        var needed = SWIOTLB.slots(covering: transferBytes)
        var used = statistics?.usedSlots ?? 0
        var largest = statistics?.areas.map(\.largestFreeRun).max() ?? 0
        if case .swiotlb(.exhausted(let full)) = error {
            needed = full.slotsNeeded
            used = full.usedSlots
            largest = full.largestFreeRun
        }
        let seconds = Double(waited.components.seconds) + Double(waited.components.attoseconds) * 1e-18
        return BlockIOStall(
            reason: reason, disk: kind, unitAddress: unitAddress, operation: op == .write ? "write" : "read", cpu: cpu,
            sector: sector, byteCount: byteCount, transferBytes: transferBytes, transferSector: transferSector,
            slotsNeeded: pool == nil ? 0 : needed, poolSlots: pool?.slotCount ?? 0, usedSlots: used,
            largestFreeRun: largest, requeues: requeues, waitedSeconds: seconds)
    }

    private func unmapAll(_ batch: [Inflight], direction: DMADirection) {
        for item in batch { try? kernel.dmaUnmapSingle(item.dma, size: item.length, direction: direction) }
    }

    private func descriptorAddress(_ index: UInt64) -> GuestPhysicalAddress {
        let slot = index % UInt64(VirtualBlockProtocol.descriptorCount)
        return GuestPhysicalAddress(
            queueAddress.rawValue + UInt64(VirtualBlockProtocol.descriptorsOffset) + slot * UInt64(VirtualBlockProtocol.descriptorSize))
    }

    static func descriptor(
        _ op: VirtualBlockProtocol.Operation, length: Int, sector: UInt64, dma: UInt64, tag: UInt64
    ) -> [UInt8] {
        var d: [UInt8] = [op.rawValue, VirtualBlockProtocol.Status.pending.rawValue, 0, 0]
        d += BigEndianCells.bytes(UInt32(length))
        d += BigEndianCells.bytes(sector)
        d += BigEndianCells.bytes(dma)
        d += BigEndianCells.bytes(tag)
        return d
    }
}

extension GuestKernel {
    /// Models the probe of the virtual block driver: finds the device (the
    /// `/vdevice` node compatible with ``VirtualBlockProtocol/compatible``, or
    /// `unitAddress` when given), allocates its queue with `dma_alloc_coherent()`
    /// (shared with the hypervisor on a secure guest, owner `dma-coherent`), writes
    /// the queue header and hands the queue to the device with `H_VIO_SIGNAL` (set
    /// queue). If the device refuses, the queue is freed again. `kind` picks the driver
    /// (``VirtualDiskKind``); for NVMe the probe also sets the device's
    /// `min_align_mask` and computes `max_hw_sectors`, as `nvme_reset_work()` (6.1) does.
    /// `requeueTimeout` is the driver's ``VirtualBlockDriver/requeueTimeout`` (zero when
    /// the caller is the only one using the bounce pool).
    public func probeVirtualBlockDevice(
        unitAddress: UInt32? = nil, kind: VirtualDiskKind = .virtio, cpu: Int = 0,
        requeueTimeout: Duration = VirtualBlockDriver.defaultRequeueTimeout
    ) throws(BlockIOError) -> VirtualBlockDriver {
        guard phase == .running else { throw .kernelNotRunning }
        var unit = unitAddress
        var sectors: UInt64?
        if let tree = deviceTree?.tree {
            for path in tree.nodes(compatibleWith: VirtualBlockProtocol.compatible) {
                guard let reg = try? tree.u32("reg", at: path) else { continue }
                if unit == nil || unit == reg {
                    unit = reg
                    if let s = tree.propertyIfPresent(VirtualBlockProtocol.sectorsProperty, at: path), s.count == 8 {
                        sectors = BigEndianCells.u64(s, at: 0)
                    }
                    break
                }
            }
        }
        guard let unit else {
            throw .noDevice("no /vdevice node is compatible with \"\(VirtualBlockProtocol.compatible)\"")
        }
        let queue: GuestPhysicalAddress
        do {
            queue = try dmaAllocCoherent(size: Int(PageSize.bytes), cpu: cpu)
        } catch {
            throw .dma(error)
        }
        let vcpu = processor(cpu)
        var header = BigEndianCells.bytes(VirtualBlockProtocol.magic) + BigEndianCells.bytes(VirtualBlockProtocol.version)
        header += BigEndianCells.bytes(UInt32(VirtualBlockProtocol.descriptorCount)) + [0, 0, 0, 0]
        header += [UInt8](repeating: 0, count: 16)
        do {
            try vcpu.write(at: queue, bytes: header, purpose: "virtual block queue header")
        } catch {
            try? dmaFreeCoherent(queue, cpu: cpu)
            throw .queue(error)
        }
        let status = HypervisorStatus(
            register: vcpu.hypercall(.vioSignal, [UInt64(unit), queue.rawValue | VirtualBlockProtocol.Mode.setQueue.rawValue]).r3)
        guard status == .success else {
            try? dmaFreeCoherent(queue, cpu: cpu)
            throw .setup(unitAddress: unit, status: status)
        }
        state.withLock { $0.blockQueues[unit] = queue.rawValue }
        var maximum = VirtualBlockProtocol.maximumTransfer
        var limits = ""
        if kind == .nvme {
            let device = kind.dmaDevice(linux: options.linux)
            maximum = min(maximum, VirtualDiskKind.nvmeDriverLimit(options.linux))
            if let mapping = dmaMaxMappingSize(device: device) { maximum = min(maximum, mapping) }
            maximum -= maximum % VirtualBlockProtocol.sectorSize
            limits =
                "; min_align_mask 0x\(String(device.minAlignMask, radix: 16)), max_hw_sectors "
                + "\(maximum / VirtualBlockProtocol.sectorSize)"
        }
        printk(
            "\(kind.logName) 0x\(String(unit, radix: 16)): queue at \(queue)"
                + (sectors.map { ", \($0) sectors (\(($0 * 512) >> 20) MiB)" } ?? "") + limits)
        return VirtualBlockDriver(
            kernel: self, kind: kind, maximumTransfer: maximum, unitAddress: unit, sectorCount: sectors,
            queueAddress: queue, requeueTimeout: requeueTimeout)
    }
}
