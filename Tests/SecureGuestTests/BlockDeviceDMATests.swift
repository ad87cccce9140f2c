import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import SWIOTLB
import Testing

@testable import SecureGuest
import PEFTestSupport

/// Block I/O through the virtual device: on a secure guest every byte bounces
/// through the shared SWIOTLB pool and the hypervisor never touches a secure page.
@Suite("Block device DMA")
struct BlockDeviceDMATests {
    static let bytes = 6 << 20

    @Test("Several MiB each way arrive byte for byte through the bounce pool; no isolation violation")
    func secureBlockIO() throws {
        let t = try GuestTestMachine(memory: 512 << 20, cpus: 2, bootargs: "swiotlb=8192,force", diskSectors: 32768)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        let pool = try #require(report.swiotlb)
        let disk = try kernel.probeVirtualBlockDevice()
        #expect(disk.unitAddress == VirtualBlockDevice.defaultUnitAddress)
        #expect(disk.sectorCount == 32768)
        #expect(kernel.ledger.countsByOwner[.dmaCoherent] == 1, "the queue page")

        let data = pattern(Self.bytes, seed: 11)
        let source = try kernel.allocateMemory(bytes: UInt64(Self.bytes), purpose: "test source")
        let target = try kernel.allocateMemory(bytes: UInt64(Self.bytes), purpose: "test target")
        #expect(t.memory.state(of: source.frame) == .secure)
        try t.boot.write(at: source, bytes: data)

        // Guest → disk.
        try disk.write(sector: 8, from: source, byteCount: Self.bytes, cpu: 1)
        let device = try #require(t.disk)
        #expect(device.contents(sector: 8, byteCount: Self.bytes) == data)
        // Disk → guest.
        try disk.read(sector: 8, into: target, byteCount: Self.bytes)
        #expect(try t.boot.read(at: target, count: Self.bytes) == data)

        // Everything bounced; the device only ever saw pool addresses.
        let stats = kernel.dmaStatistics
        #expect(stats.bouncedBytes == 2 * UInt64(Self.bytes))
        #expect(stats.bouncedMappings == stats.mappings)
        #expect(device.statistics.bytesWritten == UInt64(Self.bytes))
        #expect(device.statistics.bytesRead == UInt64(Self.bytes))
        #expect(t.memory.violationCount == 0)
        #expect(t.memory.violations.isEmpty)
        #expect(kernel.swiotlbPool?.statistics.usedSlots == 0, "every mapping unmapped")
        #expect(kernel.log.contains("Memory encryption is active and system is using DMA bounce buffers"))
        #expect(pool.shared)
        let audit = kernel.audit("after block I/O")
        #expect(audit.isClean, "\(audit)")
        #expect(disk.statistics.bytesRead == UInt64(Self.bytes))
    }

    @Test("A normal guest's device reads and writes the guest's buffers directly")
    func normalBlockIO() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "console=hvc0", diskSectors: 16384)
        let (kernel, _) = try t.boot()
        let disk = try kernel.probeVirtualBlockDevice()
        let data = pattern(3 << 20, seed: 5)
        let buffer = try kernel.allocateMemory(bytes: UInt64(data.count))
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 0, from: buffer, byteCount: data.count)
        try t.boot.write(at: buffer, bytes: [UInt8](repeating: 0, count: data.count))
        try disk.read(sector: 0, into: buffer, byteCount: data.count)
        #expect(try t.boot.read(at: buffer, count: data.count) == data)
        #expect(kernel.dmaStatistics.bouncedMappings == 0)
        #expect(kernel.dmaStatistics.mappings > 0)
        #expect(t.ultracallCount == 0)
    }

    /// `kernel/dma/swiotlb.c: swiotlb_init_remap (6.12)` returns at once for
    /// `swiotlb=noforce`; dma-direct then hands the device the secure buffer's own
    /// address, as Linux does (this test used to expect SVMKit to refuse the mapping).
    @Test("A secure guest without a bounce pool DMAs at secure memory, as Linux does: the disk gets ciphertext")
    func secureWithoutBouncing() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "swiotlb=noforce", diskSectors: 1024)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        #expect(report.swiotlb == nil)
        #expect(!report.dmaForcedBounce)
        #expect(kernel.log.contains("software IO TLB: No low mem"))
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 4096, purpose: "test buffer")
        let data = pattern(4096, seed: 3)
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 0, from: buffer, byteCount: 4096)
        #expect(t.memory.violationCount == 1)
        #expect(t.disk?.statistics.kicks == 1)
        let onDisk = try #require(t.disk?.contents(sector: 0, byteCount: 4096))
        #expect(onDisk != data, "the disk received the page's ciphertext, not the data")
        #expect(kernel.dmaStatistics.bouncedMappings == 0)
    }

    /// `svm.c: init_svm (6.12)` → `swiotlb_update_mem_attributes()` ignores
    /// `set_memory_decrypted()`'s outcome, which itself ignores the Ultravisor's status.
    /// This test used to expect SVMKit to drop the pool and refuse DMA; now the guest
    /// uses the pool as Linux does, the device's access to the still-secure pool is
    /// the hypervisor touching secure memory, and the diagnosis names the ignored
    /// status and the pool.
    @Test("If sharing the pool fails, Linux uses it anyway; the diagnosis names the ignored status and the pool")
    func poolShareFails() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "swiotlb=512,force", diskSectors: 1024)
        try t.makeSecure()
        // Guest shares in link order: the LPPACA region, the DTL page, then the pool.
        t.machine.faults.add(
            FaultRule(
                opcode: .ultracall(.sharePage), caller: .guest, trigger: .nth(3),
                action: .status(UltravisorStatus.p2.rawValue)))
        let (kernel, report) = try t.boot()
        let pool = try #require(report.swiotlb)
        #expect(pool.shared, "Linux believes the pool is shared")
        let audit = kernel.audit("after boot")
        #expect(audit.isClean)
        #expect(audit.ledger.ignoredStatusMismatches.count == pool.bytes >> 16)
        #expect(kernel.diagnose().contains { $0.kind == .ignoredStatus && $0.owner == .swiotlb })
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 4096)
        _ = try? disk.write(sector: 0, from: buffer, byteCount: 4096)
        #expect(t.memory.violationCount > 0)
        #expect(kernel.diagnose().contains { $0.kind == .isolationViolation && $0.owner == .swiotlb })
    }

    @Test("Transfers larger than the pool are split and still arrive intact")
    func smallPool() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "swiotlb=512,force", diskSectors: 8192)
        try t.makeSecure()
        let (kernel, report) = try t.boot()
        #expect(report.swiotlb?.bytes == 1 << 20)
        let disk = try kernel.probeVirtualBlockDevice()
        let data = pattern(3 << 20, seed: 9)
        let buffer = try kernel.allocateMemory(bytes: UInt64(data.count))
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 100, from: buffer, byteCount: data.count)
        #expect(t.disk?.contents(sector: 100, byteCount: data.count) == data)
        #expect(disk.statistics.kicks >= 3, "a 1 MiB pool holds 4 transfers at a time")
        #expect(t.memory.violationCount == 0)
    }
}
