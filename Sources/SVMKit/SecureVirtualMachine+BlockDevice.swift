import Hypervisor
import PowerABI
import SecureGuest

extension SecureVirtualMachine {
    /// One round trip through a virtual block device: what makes the DMA bugs of
    /// `GuestBug` show (`svmkit boot --bug`). Attaches a 2 MiB device to the
    /// hypervisor at `VirtualBlockDevice.defaultUnitAddress` unless one is there, has
    /// the running kernel probe it with the configuration's driver (`BootConfiguration.disk`;
    /// NVMe buffers start 0xa00 into their page, as direct I/O's may), writes `bytes` of a pattern from a kernel buffer to
    /// sector 0 and reads them back into another (on a secure guest both bounce
    /// through the SWIOTLB pool), and compares.
    ///
    /// Returns what happened (also in the next ``report(wallSeconds:)``'s
    /// `blockDeviceCheck`); faults the kernel or the machine caught appear in the
    /// report's `guestFaults`, culprit named.
    @discardableResult
    public func exerciseBlockDevice(bytes: Int = 64 << 10) -> BlockDeviceCheck {
        let result = blockDeviceRoundTrip(bytes: bytes)
        recordBlockDeviceCheck(result)
        return result
    }

    /// Where in its page the NVMe round trip's buffers start: 0xa00, a 512-byte offset
    /// with bit 11 set, so the bounce slot must start on an odd 2 KiB slot.
    static let nvmeRoundTripOffset: UInt64 = 0xA00

    private func blockDeviceRoundTrip(bytes: Int) -> BlockDeviceCheck {
        guard let kernel, kernel.phase == .running else {
            return BlockDeviceCheck(passed: false, detail: "not run: no guest kernel is running")
        }
        let unit = VirtualBlockDevice.defaultUnitAddress
        if hypervisor.blockDevice(unitAddress: unit) == nil {
            _ = hypervisor.attachBlockDevice(unitAddress: unit, sectorCount: 4096)
        }
        let data = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }
        let vcpu = machine.bootProcessor
        // NVMe: direct I/O from buffers at a 512-byte (not 4 KiB) offset, so the bounce
        // slot must keep the offset's low 12 bits (min_align_mask 0xfff).
        let offset: UInt64 = configuration.disk == .nvme ? Self.nvmeRoundTripOffset : 0
        do {
            // The round trip is alone: no other CPU will release a bounce slot, so a map
            // that finds the pool full is an I/O stall at once (BlockIOStall).
            let disk = try kernel.probeVirtualBlockDevice(unitAddress: unit, kind: configuration.disk, requeueTimeout: .zero)
            let source = GuestPhysicalAddress(
                try kernel.allocateMemory(bytes: UInt64(bytes) + offset, purpose: "block round trip source").rawValue + offset)
            let target = GuestPhysicalAddress(
                try kernel.allocateMemory(bytes: UInt64(bytes) + offset, purpose: "block round trip target").rawValue + offset)
            try vcpu.write(at: source, bytes: data, purpose: "block round trip")
            try disk.write(sector: 0, from: source, byteCount: bytes)
            // What reached the disk: on hardware a device reading an unshared bounce page
            // gets its ciphertext (kvmppc_uvmem_migrate_to_ram pages it out).
            let onDisk = hypervisor.blockDevice(unitAddress: unit)?.contents(sector: 0, byteCount: bytes) ?? data
            let diskCorrupted = onDisk != data
            let back: [UInt8]
            do {
                try disk.read(sector: 0, into: target, byteCount: bytes)
                // The guest's own read of the target: a page the device wrote into while
                // it was secure comes back with U_P3 and the access cannot complete.
                back = try vcpu.read(at: target, count: bytes, purpose: "block round trip")
            } catch {
                guard diskCorrupted else { throw error }
                return BlockDeviceCheck(
                    passed: false, corrupted: true,
                    detail: "the disk received \(zip(onDisk, data).filter { $0 != $1 }.count) of \(bytes) bytes "
                        + "different from what the guest wrote (ciphertext), and reading them back failed: \(error)")
            }
            let differing = zip(back, data).filter { $0 != $1 }.count
            if diskCorrupted {
                return BlockDeviceCheck(
                    passed: false, corrupted: true,
                    detail: "the disk received \(zip(onDisk, data).filter { $0 != $1 }.count) of \(bytes) bytes "
                        + "different from what the guest wrote (ciphertext); \(differing) differ when read back")
            }
            let how =
                offset == 0
                ? ""
                : " (nvme: buffers at page offset 0x\(String(offset, radix: 16)), min_align_mask "
                    + "0x\(String(disk.dmaDevice.minAlignMask, radix: 16)))"
            return differing == 0
                ? BlockDeviceCheck(passed: true, detail: "\(bytes) bytes written and read back intact" + how)
                : BlockDeviceCheck(
                    passed: false, corrupted: true,
                    detail: "\(bytes) bytes written, but \(differing) differ when read back")
        } catch BlockIOError.stalled(let stall) {
            return BlockDeviceCheck(passed: false, detail: "stalled: \(stall)", stall: stall)
        } catch {
            return BlockDeviceCheck(passed: false, detail: "failed: \(error)")
        }
    }
}

/// What a block-device round trip (``SecureVirtualMachine/exerciseBlockDevice(bytes:)``) found.
public struct BlockDeviceCheck: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The bytes went out and came back intact.
    public var passed: Bool
    /// The bytes reached the disk or came back different: silent corruption, never
    /// acceptable (e.g. the disk received the ciphertext of an unshared bounce page).
    public var corrupted: Bool
    /// What happened, in words (the error when it failed).
    public var detail: String
    /// The request that could never be mapped, when the round trip stalled: Linux would
    /// requeue it for ever (`BLK_STS_RESOURCE`) and the task would hang.
    public var stall: BlockIOStall?

    /// Makes a result.
    public init(passed: Bool, corrupted: Bool = false, detail: String, stall: BlockIOStall? = nil) {
        self.passed = passed
        self.corrupted = corrupted
        self.detail = detail
        self.stall = stall
    }

    /// The detail.
    public var description: String { detail }
}
