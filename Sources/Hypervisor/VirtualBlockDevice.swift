public import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI
import Locking

/// SVMKit's virtual block device: a disk in the hypervisor that the guest drives
/// through a descriptor queue and a doorbell hcall, doing DMA only through the
/// hypervisor's accessor to guest memory, so it reaches only pages the guest shared
/// (or, on a normal guest, its normal pages). A secure guest must therefore bounce
/// every buffer through its shared SWIOTLB pool, which is exactly what the guest
/// runtime issue asks to demonstrate.
///
/// The protocol (the guest driver keeps its own copy, `VirtualBlockProtocol` in
/// SecureGuest; the modules share an ABI, not code):
///
/// - **Discovery**: ``deviceTreeNode`` (`/vdevice/v-blk@<unit>`, compatible
///   `svmkit,virtual-block`, `reg`, `svmkit,sectors`).
/// - **Queue**: one 64 KiB guest page, big-endian: be32 magic `"VBLK"` at 0, be32
///   version 1 at 4, be32 descriptor count N at 8, be64 producer at 0x10, be64 consumer
///   at 0x18, then N descriptors of 32 bytes from 0x40 (descriptor i in slot i mod N):
///   u8 operation (1 read into memory, 2 write from memory), u8 status (0 pending,
///   1 done, 2 out of range, 3 DMA error, 4 malformed), be16 reserved, be32 length
///   (a multiple of 512, at most 256 KiB), be64 sector, be64 DMA address, be64 tag.
/// - **Doorbell**: `H_VIO_SIGNAL` (0x104), r4 = unit address, r5 = mode. PAPR
///   defines modes 0 and 1 (disable / enable the device's interrupts: accepted, and
///   interrupts are not modelled); SVMKit adds 2 = set queue (r5 = queue gpa | 2),
///   3 = kick (process every descriptor between consumer and producer before the
///   hcall returns), 4 = reset. `H_VIO_SIGNAL` was chosen because it is a PAPR VIO
///   hcall the Ultravisor already reflects with r3–r5 intact (`H_SEND_CRQ` is not in
///   its table). `H_PARAMETER` answers a mode ≥ 2 for a unit with no block device, an
///   unknown mode, a queue the hypervisor cannot read, and a kick with no queue.
/// - **Errors**: a descriptor whose buffer the hypervisor may not touch gets status 3;
///   the isolation violation is recorded by the machine, naming the address and the
///   request (`purpose`).
public final class VirtualBlockDevice: Sendable {
    /// The default unit address (after QEMU's vty@71000000 and nvram@71000001).
    public static let defaultUnitAddress: UInt32 = 0x7100_0010
    /// Disk bytes per storage chunk (the disk is sparse).
    static let chunkBytes = 64 * 1024

    /// The device's unit address (`reg`).
    public let unitAddress: UInt32
    /// The disk size in sectors.
    public let sectorCount: UInt64

    private struct State: Sendable {
        var chunks: [UInt64: [UInt8]] = [:]
        var queue: UInt64?
        var descriptors: UInt64 = 0
        var interruptsEnabled = false
        var statistics = VirtualBlockDeviceStatistics()
    }

    private let state = Lock(State())

    /// A zeroed disk of `sectorCount` sectors at `unitAddress`.
    public init(unitAddress: UInt32 = VirtualBlockDevice.defaultUnitAddress, sectorCount: UInt64) {
        self.unitAddress = unitAddress
        self.sectorCount = sectorCount
    }

    /// The node to put under `/vdevice` so the guest finds the device.
    public var deviceTreeNode: DeviceTreeNode {
        DeviceTreeNode(
            "v-blk@" + String(unitAddress, radix: 16),
            properties: [
                .string("compatible", VirtualBlockProtocol.compatible), .string("device_type", "block"), .u32("reg", unitAddress),
                .u64("svmkit,sectors", sectorCount),
            ])
    }

    /// The queue page the guest registered, if any.
    public var queueAddress: UInt64? { state.withLock { $0.queue } }

    /// Counters.
    public var statistics: VirtualBlockDeviceStatistics { state.withLock { $0.statistics } }

    /// `count` bytes of the disk from `sector` (zero where never written; clipped to the disk).
    public func contents(sector: UInt64, byteCount count: Int) -> [UInt8] {
        state.withLock { s in Self.read(&s.chunks, offset: sector &* UInt64(VirtualBlockProtocol.sectorSize), count: count) }
    }

    /// Writes `bytes` to the disk from `sector` on (clipped to the disk), as if the
    /// image had them.
    public func load(_ bytes: [UInt8], at sector: UInt64) {
        let end = sectorCount * UInt64(VirtualBlockProtocol.sectorSize)
        let offset = sector &* UInt64(VirtualBlockProtocol.sectorSize)
        guard offset < end else { return }
        let n = Int(min(UInt64(bytes.count), end - offset))
        state.withLock { s in Self.write(&s.chunks, offset: offset, bytes: bytes[0..<n]) }
    }

    private static func read(_ chunks: inout [UInt64: [UInt8]], offset: UInt64, count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: max(0, count))
        forEachPiece(offset: offset, count: out.count) { chunk, inChunk, done, n in
            if let c = chunks[chunk] { out.replaceSubrange(done..<(done + n), with: c[inChunk..<(inChunk + n)]) }
        }
        return out
    }

    private static func write(_ chunks: inout [UInt64: [UInt8]], offset: UInt64, bytes: ArraySlice<UInt8>) {
        forEachPiece(offset: offset, count: bytes.count) { chunk, inChunk, done, n in
            let start = bytes.startIndex + done
            chunks[chunk, default: [UInt8](repeating: 0, count: chunkBytes)].replaceSubrange(
                inChunk..<(inChunk + n), with: bytes[start..<(start + n)])
        }
    }

    /// Walks `count` bytes from disk offset `offset` chunk by chunk: `body(chunk, offset
    /// in the chunk, offset in the range, length)` for each piece.
    private static func forEachPiece(
        offset: UInt64, count: Int, _ body: (_ chunk: UInt64, _ inChunk: Int, _ done: Int, _ length: Int) -> Void
    ) {
        var done = 0
        while done < count {
            let at = offset + UInt64(done)
            let inChunk = Int(at % UInt64(chunkBytes))
            let n = min(count - done, chunkBytes - inChunk)
            body(at / UInt64(chunkBytes), inChunk, done, n)
            done += n
        }
    }

    // MARK: The doorbell

    /// Handles `H_VIO_SIGNAL` modes 2–4 for this device (see the type's documentation).
    func signal(command: UInt64, payload: UInt64, on machine: Machine, notes: inout [String]) -> HypervisorStatus {
        switch VirtualBlockProtocol.Mode(rawValue: command) {
        case .setQueue: return setQueue(payload, on: machine, notes: &notes)
        case .kick: return kick(on: machine, notes: &notes)
        case .reset:
            state.withLock { s in
                s.queue = nil
                s.descriptors = 0
            }
            return .success
        case .disableInterrupts, .enableInterrupts, nil:
            notes.append("unknown H_VIO_SIGNAL mode \(command)")
            return .parameter
        }
    }

    func setInterrupts(_ enabled: Bool) { state.withLock { $0.interruptsEnabled = enabled } }

    private var name: String { "virtual block device 0x" + String(unitAddress, radix: 16) }

    private func setQueue(_ gpa: UInt64, on machine: Machine, notes: inout [String]) -> HypervisorStatus {
        let memory = machine.memory
        let header: [UInt8]
        do {
            header = try memory.read(.hypervisor, at: GuestPhysicalAddress(gpa), count: 16, purpose: "\(name): queue header")
        } catch {
            notes.append("\(name): \(error)")
            return .parameter
        }
        let magic = BigEndianCells.u32(header, at: 0)
        let count = UInt64(BigEndianCells.u32(header, at: VirtualBlockProtocol.countOffset))
        guard magic == VirtualBlockProtocol.magic, (1...UInt64(VirtualBlockProtocol.descriptorCount)).contains(count)
        else {
            notes.append("\(name): bad queue header (magic 0x\(String(magic, radix: 16)), \(count) descriptors)")
            return .parameter
        }
        state.withLock { s in
            s.queue = gpa
            s.descriptors = count
        }
        return .success
    }

    private func kick(on machine: Machine, notes: inout [String]) -> HypervisorStatus {
        guard let (queue, count) = state.withLock({ s in s.queue.map { ($0, s.descriptors) } }) else {
            notes.append("\(name): kick without a queue")
            return .parameter
        }
        let memory = machine.memory
        let purpose = "\(name): queue"
        let producer: UInt64
        var consumer: UInt64
        do {
            producer = try memory.readBigEndian(
                .hypervisor, at: GuestPhysicalAddress(queue + UInt64(VirtualBlockProtocol.producerOffset)), as: UInt64.self, purpose: purpose)
            consumer = try memory.readBigEndian(
                .hypervisor, at: GuestPhysicalAddress(queue + UInt64(VirtualBlockProtocol.consumerOffset)), as: UInt64.self, purpose: purpose)
        } catch {
            notes.append("\(purpose): \(error)")
            return .parameter
        }
        guard producer >= consumer, producer - consumer <= count else {
            notes.append("\(name): producer \(producer) and consumer \(consumer) are inconsistent")
            return .parameter
        }
        state.withLock { $0.statistics.kicks += 1 }
        while consumer < producer {
            let slot =
                queue + UInt64(VirtualBlockProtocol.descriptorsOffset)
                + (consumer % count) * UInt64(VirtualBlockProtocol.descriptorSize)
            do {
                let d = try memory.read(
                    .hypervisor, at: GuestPhysicalAddress(slot), count: VirtualBlockProtocol.descriptorSize, purpose: purpose)
                let status = process(d, on: machine)
                try memory.write(
                    .hypervisor, at: GuestPhysicalAddress(slot + UInt64(VirtualBlockProtocol.statusOffset)),
                    bytes: [status.rawValue], purpose: purpose)
                consumer += 1
                try memory.writeBigEndian(
                    .hypervisor, at: GuestPhysicalAddress(queue + UInt64(VirtualBlockProtocol.consumerOffset)), consumer, purpose: purpose)
            } catch {
                notes.append("\(purpose): \(error)")
                return .parameter
            }
        }
        return .success
    }

    /// Runs one descriptor; returns its status.
    private func process(_ d: [UInt8], on machine: Machine) -> VirtualBlockProtocol.Status {
        let op = VirtualBlockProtocol.Operation(rawValue: d[0])
        let length = Int(BigEndianCells.u32(d, at: 4))
        let sector = BigEndianCells.u64(d, at: 8)
        let dma = BigEndianCells.u64(d, at: 16)
        guard let op, length > 0, length % VirtualBlockProtocol.sectorSize == 0,
            length <= VirtualBlockProtocol.maximumTransfer
        else {
            state.withLock { $0.statistics.errors += 1 }
            return .malformed
        }
        let sectors = UInt64(length / VirtualBlockProtocol.sectorSize)
        guard sector < sectorCount, sectors <= sectorCount - sector else {
            state.withLock { $0.statistics.errors += 1 }
            return .outOfRange
        }
        let offset = sector * UInt64(VirtualBlockProtocol.sectorSize)
        let memory = machine.memory
        let gpa = GuestPhysicalAddress(dma)
        do {
            if op == .write {
                let bytes = try memory.read(
                    .hypervisor, at: gpa, count: length, purpose: "\(name): DMA read of the buffer for sector \(sector)")
                state.withLock { s in
                    Self.write(&s.chunks, offset: offset, bytes: bytes[...])
                    s.statistics.writes += 1
                    s.statistics.bytesWritten += UInt64(length)
                }
            } else {
                let bytes = state.withLock { s in Self.read(&s.chunks, offset: offset, count: length) }
                try memory.write(
                    .hypervisor, at: gpa, bytes: bytes, purpose: "\(name): DMA write of the buffer for sector \(sector)")
                state.withLock { s in
                    s.statistics.reads += 1
                    s.statistics.bytesRead += UInt64(length)
                }
            }
        } catch {
            state.withLock { $0.statistics.errors += 1 }
            return .dmaError
        }
        return .done
    }
}

/// Counters of a ``VirtualBlockDevice``.
public struct VirtualBlockDeviceStatistics: Hashable, Sendable {
    /// Doorbells handled.
    public var kicks = 0
    /// Read descriptors done (disk → memory).
    public var reads = 0
    /// Write descriptors done (memory → disk).
    public var writes = 0
    /// Bytes moved to guest memory.
    public var bytesRead: UInt64 = 0
    /// Bytes taken from guest memory.
    public var bytesWritten: UInt64 = 0
    /// Descriptors failed.
    public var errors = 0

    /// All zero.
    public init() {}
}
