import Foundation
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
@testable import SWIOTLB
import Synchronization
import Testing

@testable import SecureGuest
import PEFTestSupport

/// A block transfer whose map finds the bounce pool full is requeued, not failed, as
/// `virtio_queue_rq()`/`nvme_queue_rq()` return `BLK_STS_RESOURCE` and blk-mq reruns the
/// queue (6.1, 6.12); one that can never be mapped is a stall, never a loop.
@Suite("Block requeue on a full bounce pool")
struct BlockRequeueTests {
    /// A secure 6.12 guest (one vCPU) with a 1 MiB pool (512 slots, one area), a disk,
    /// and 448 slots held by mappings of the test's own: 3 × 256 KiB and one 128 KiB,
    /// leaving 64 free slots at the end.
    struct Setup {
        let machine: GuestTestMachine
        let kernel: GuestKernel
        let held: [(dma: UInt64, size: Int)]
        let buffer: GuestPhysicalAddress

        init(linux: LinuxVersion = .v6_12) throws {
            machine = try GuestTestMachine(
                memory: 512 << 20, cpus: 1, bootargs: "svm=on swiotlb=512,force console=hvc0", diskSectors: 8192)
            try machine.makeSecure()
            var options = GuestKernelOptions()
            options.linux = linux
            (kernel, _) = try machine.boot(options)
            let source = try kernel.allocateMemory(bytes: 1 << 20, purpose: "held mappings")
            var held: [(UInt64, Int)] = []
            for (i, size) in [256 << 10, 256 << 10, 256 << 10, 128 << 10].enumerated() {
                let original = GuestPhysicalAddress(source.rawValue + UInt64(i) * (256 << 10))
                held.append((try kernel.dmaMapSingle(original, size: size, direction: .toDevice), size))
            }
            self.held = held
            buffer = try kernel.allocateMemory(bytes: 1 << 20, purpose: "request buffer")
            #expect(kernel.swiotlbPool?.slotCount == 512 && kernel.swiotlbPool?.statistics.usedSlots == 448)
        }

        func release(_ i: Int) throws {
            try kernel.dmaUnmapSingle(held[i].dma, size: held[i].size, direction: .toDevice)
        }
    }

    /// Waits (at most 120 s: only a failing test waits that long) until `condition` holds.
    static func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            usleep(1000)
        }
        return true
    }

    @Test(
        "A 256 KiB write into a full pool is requeued, then completes once another mapping is released (virtio and NVMe)",
        arguments: VirtualDiskKind.allCases)
    func requeueThenSuccess(kind: VirtualDiskKind) throws {
        let s = try Setup()
        // The writer waits for the test's release; a long timeout, so that a loaded machine
        // that is slow to run the releasing thread cannot turn the requeue into a stall.
        let disk = try s.kernel.probeVirtualBlockDevice(kind: kind, requeueTimeout: .seconds(120))
        let data = pattern(256 << 10, seed: 41)
        try s.machine.boot.write(at: s.buffer, bytes: data)
        let outcome = Mutex<Result<Void, BlockIOError>?>(nil)
        let writer = Thread {
            let r = Result { () throws(BlockIOError) in try disk.write(sector: 64, from: s.buffer, byteCount: 256 << 10) }
            outcome.withLock { $0 = r }
        }
        writer.start()
        // The writer's first map found the pool full (Linux's line) and it waits.
        #expect(Self.eventually { s.kernel.log.contains("swiotlb buffer is full") })
        #expect(outcome.withLock { $0 } == nil, "requeued, not failed")
        try s.release(0)
        #expect(Self.eventually { outcome.withLock { $0 } != nil })
        let result = try #require(outcome.withLock { $0 })
        #expect(throws: Never.self) { try result.get() }
        #expect(disk.statistics.requeues >= 1)
        #expect(s.machine.disk?.contents(sector: 64, byteCount: 256 << 10) == data)
        #expect(s.kernel.swiotlbPool?.statistics.usedSlots == 320, "the request's slots are back; 320 still held")
        #expect(s.kernel.phase == .running)
    }

    @Test("Mapped transfers go first: a 768 KiB write with room for two is requeued once and completes alone")
    func partialBatch() throws {
        let s = try Setup()
        try s.release(0)
        try s.release(3)  // free: slots 0-127 and 384-511, two of the three 256 KiB transfers
        let disk = try s.kernel.probeVirtualBlockDevice(requeueTimeout: .zero)
        let data = pattern(768 << 10, seed: 42)
        try s.machine.boot.write(at: s.buffer, bytes: data)
        try disk.write(sector: 0, from: s.buffer, byteCount: 768 << 10)
        #expect(disk.statistics.requeues == 1)
        #expect(disk.statistics.kicks == 2)
        #expect(s.machine.disk?.contents(sector: 0, byteCount: 768 << 10) == data)
    }

    @Test("Alone with a full pool (the boot's round trip): a stall at once naming the request, the pool and the fix")
    func aloneStalls() throws {
        let s = try Setup()
        let disk = try s.kernel.probeVirtualBlockDevice(requeueTimeout: .zero)
        do {
            try disk.write(sector: 8, from: s.buffer, byteCount: 256 << 10)
            Issue.record("the write returned")
        } catch {
            guard case .stalled(let stall) = error else {
                Issue.record("not a stall: \(error)")
                return
            }
            #expect(stall.reason == .nothingReleased && stall.waitedSeconds == 0)
            #expect(stall.byteCount == 256 << 10 && stall.transferBytes == 256 << 10 && stall.sector == 8)
            #expect(stall.poolSlots == 512 && stall.usedSlots == 448 && stall.slotsNeeded == 128 && stall.largestFreeRun == 64)
            #expect(stall.requeues == 1)
            #expect(stall.suggestedSwiotlb == "swiotlb=1024,force")
            let text = error.description
            for part in ["I/O stall", "262144-byte write", "512 slots", "BLK_STS_RESOURCE", "120 seconds", "swiotlb=1024,force"] {
                #expect(text.contains(part), "\(part): \(text)")
            }
        }
        #expect(disk.statistics.requeues == 1)
        #expect(s.kernel.log.contains("swiotlb buffer is full (sz: 262144 bytes), total 512 (slots), used 448 (slots)"))
        #expect(s.kernel.phase == .running, "only the task hangs in Linux, not the kernel")
        #expect(s.kernel.swiotlbPool?.statistics.usedSlots == 448, "nothing of the request stays mapped")
    }

    @Test("Mappings nobody releases: the requeued request waits its timeout, then stalls")
    func nothingReleasedStalls() throws {
        let s = try Setup()
        let disk = try s.kernel.probeVirtualBlockDevice(kind: .nvme, requeueTimeout: .milliseconds(50))
        let started = ContinuousClock.now
        #expect {
            try disk.read(sector: 0, into: s.buffer, byteCount: 200 << 10)
        } throws: { error in
            guard case .stalled(let stall) = error as? BlockIOError else { return false }
            return stall.reason == .nothingReleased && stall.waitedSeconds == 0.05 && stall.disk == .nvme
                && stall.description.contains("nvme_queue_rq()")
        }
        // A lower bound only: the wait cannot end before its deadline, while an upper bound
        // on wall time would fail on a loaded machine.
        #expect(ContinuousClock.now - started >= .milliseconds(50), "it waited for a release first")
    }

    @Test("A transfer larger than any free run of an empty pool stalls at once; no pool size cures it")
    func neverFits() throws {
        let s = try Setup()
        for i in s.held.indices { try s.release(i) }
        let probed = try s.kernel.probeVirtualBlockDevice()
        // A driver whose transfers exceed dma_max_mapping_size() (one 256 KiB segment).
        let disk = VirtualBlockDriver(
            kernel: s.kernel, kind: .virtio, maximumTransfer: 512 << 10, unitAddress: probed.unitAddress,
            sectorCount: probed.sectorCount, queueAddress: probed.queueAddress)
        #expect {
            try disk.write(sector: 0, from: s.buffer, byteCount: 512 << 10)
        } throws: { error in
            guard case .stalled(let stall) = error as? BlockIOError else { return false }
            return stall.reason == .neverFits && stall.usedSlots == 0 && stall.suggestedSwiotlb == nil
                && stall.description.contains("does not help")
        }
        #expect(s.kernel.swiotlbPool?.statistics.usedSlots == 0)
    }

    /// 6.1's search fails a map of more than a segment as exhausted, not as too large;
    /// before, with other mappings live, the driver took it for a full pool and waited for
    /// releases that could never make room (here, with no wait, a `nothingReleased` stall).
    @Test("6.1: a transfer over one segment never fits, even while other mappings are live")
    func neverFitsOn61() throws {
        let s = try Setup(linux: .v6_1)
        let probed = try s.kernel.probeVirtualBlockDevice()
        let disk = VirtualBlockDriver(
            kernel: s.kernel, kind: .virtio, maximumTransfer: 512 << 10, unitAddress: probed.unitAddress,
            sectorCount: probed.sectorCount, queueAddress: probed.queueAddress, requeueTimeout: .zero)
        #expect {
            try disk.write(sector: 0, from: s.buffer, byteCount: 512 << 10)
        } throws: { error in
            guard case .stalled(let stall) = error as? BlockIOError else { return false }
            return stall.reason == .neverFits && stall.usedSlots == 448 && stall.slotsNeeded == 256
        }
        #expect(s.kernel.log.contains("swiotlb buffer is full (sz: 524288 bytes), total 512 (slots), used 448 (slots)"))
    }

    /// A full pool as the pool reports it: `used` slots counted after the failed search.
    static func full(used: Int, needed: Int) -> DMAError {
        .swiotlb(
            .exhausted(
                SWIOTLBExhaustion(
                    poolSize: 1 << 20, totalSlots: 512, requestSize: needed * SWIOTLB.slotSize,
                    allocationSize: needed * SWIOTLB.slotSize, slotsNeeded: needed, allocAlignMask: 0, minAlignMask: 0,
                    effectiveAlignment: SWIOTLB.slotSize, usedSlots: used, highWaterSlots: 512, largestFreeRun: 0,
                    largestFreeRunArea: 0, startArea: 0, areaCount: 1, linux61: false)))
    }

    /// Before: a full pool whose count read 0 used slots was a never-fits stall even with
    /// other CPUs mapping, who may have released everything between the failed search and
    /// the count (a soak failure depending on thread interleaving).
    @Test("Only a driver that is alone takes an empty count for never-fits; more than a segment never fits")
    func classification() {
        typealias D = VirtualBlockDriver
        #expect(D.queueStatus(after: Self.full(used: 0, needed: 126), alone: false) == .resource)
        #expect(D.queueStatus(after: Self.full(used: 0, needed: 126), alone: true) == .resourceForever(.neverFits))
        #expect(D.queueStatus(after: Self.full(used: 300, needed: 126), alone: true) == .resource)
        #expect(D.queueStatus(after: Self.full(used: 300, needed: 256), alone: false) == .resourceForever(.neverFits))
    }

    /// The soak's bidirectional map retries on this too; before, it failed the operation
    /// when the count read 0 used slots (a soak failure depending on thread interleaving).
    @Test("releaseMayCure: a full pool whatever its used count, not more than a segment, not another error")
    func releaseMayCure() {
        #expect(Self.full(used: 0, needed: 33).releaseMayCure)
        #expect(Self.full(used: 400, needed: 128).releaseMayCure)
        #expect(!Self.full(used: 400, needed: 129).releaseMayCure)
        #expect(!DMAError.invalidSize(0).releaseMayCure && !DMAError.swiotlb(.invalidSize(0, operation: .map)).releaseMayCure)
    }

    @Test("dev_warn_ratelimited: ten lines per five seconds, then the count of those suppressed")
    func ratelimit() {
        var r = KernelRatelimit()
        let first = (0..<12).map { _ in r.allow(at: 1.0) }
        #expect(first.filter(\.print).count == 10)
        #expect(first.allSatisfy { $0.suppressed == 0 })
        #expect(r.allow(at: 6.0) == (false, 0), "begin + interval is not yet before now")
        let next = r.allow(at: 6.5)
        #expect(next == (true, 3))
    }
}
