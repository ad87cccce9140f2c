import ArgumentParser
import Foundation
// The example shows page states as an observer does: that view of the machine is
// the firmware's, behind PEFMachine's @_spi(Firmware).
@_spi(Firmware) import PEFMachine
import SVMKit

/// A guest block driver and a hypervisor block device moving data through the
/// SWIOTLB bounce pool of a secure guest.
///
/// The hypervisor's ``VirtualBlockDevice`` does DMA only through the hypervisor's
/// accessor to guest memory, so it can reach shared pages and nothing else. The guest's
/// ``VirtualBlockDriver`` maps each buffer with `dma_map_single()`; on a secure guest
/// that bounces it through the pool the kernel shared at boot (reference/
/// linux-guest-facts.md §1.3, §2.4). The example writes a pattern to the disk, reads
/// it back into another buffer, and checks every byte, the counters and the shared-page
/// ledger.
///
/// Exit status: 0 when the bytes arrive intact with no isolation violation; 1 otherwise;
/// 2 when the inputs were wrong.
@main
struct VirtioBlockOverSWIOTLB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "VirtioBlockOverSWIOTLB",
        abstract: "Move data between a guest block driver and a hypervisor disk through the SWIOTLB bounce pool.",
        discussion: """
            Boots a secure guest whose device tree has an SVMKit virtual block device \
            under /vdevice, writes --megabytes of a pattern from a secure buffer to the \
            disk and reads it back into another, and checks the bytes. With \
            --cmdline "svm=off ..." the guest stays normal and the device reaches the \
            buffers directly: nothing bounces.

            Examples:
              VirtioBlockOverSWIOTLB
              VirtioBlockOverSWIOTLB --megabytes 8 --cmdline "svm=on swiotlb=1024"
              VirtioBlockOverSWIOTLB --cmdline "svm=off console=hvc0"
            """)

    @Option(help: ArgumentHelp("How much data to move each way, in MiB (1 to 64).", valueName: "MiB"))
    var megabytes = 4

    @Option(help: ArgumentHelp("The kernel command line; swiotlb=<slots> sizes the pool (2 KiB slots).", valueName: "STRING"))
    var cmdline = "svm=on console=hvc0 swiotlb=4096,force"

    @Option(help: ArgumentHelp("Guest RAM in MiB.", valueName: "MiB"))
    var memory: UInt64 = 1024

    func validate() throws {
        guard (1...64).contains(megabytes) else { throw ValidationError("--megabytes must be 1 to 64, not \(megabytes)") }
    }

    func run() throws {
        let bytes = megabytes << 20
        let sectors = UInt64(2 * bytes / VirtualBlockProtocol.sectorSize)

        // 1. A pseries device tree with the disk's node under /vdevice, so the guest finds it.
        let diskNode = VirtualBlockDevice(sectorCount: sectors).deviceTreeNode
        var configuration = BootConfiguration()
        configuration.memoryBytes = memory << 20
        configuration.cpuCount = 2
        configuration.commandLine = cmdline
        do {
            var tree = try PseriesTreeBuilder.tree(
                PseriesTreeOptions(memoryBytes: memory << 20, cpuCount: 2, bootargs: cmdline))
            let path = try tree.addNode(diskNode.name, under: "/vdevice")
            for property in diskNode.properties { try tree.setProperty(property, at: path) }
            try tree.pack()
            configuration.deviceTree = tree.bytes
        } catch {
            return try fail(2, "cannot build the device tree: \(error)")
        }

        // 2. The machine, with the disk plugged into the hypervisor's VIO bus.
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: configuration)
        } catch {
            return try fail(2, "cannot build the machine: \(error)")
        }
        let device = vm.hypervisor.attachBlockDevice(sectorCount: sectors)
        let report = vm.boot()
        guard report.endedAsRequested, let kernel = vm.kernel else {
            return try fail(1, "the guest did not boot as asked: \(report.invariantFailures + [report.esmFailure ?? ""])")
        }
        print("== booted \(report.secure ? "secure (MSR(S) = 1)" : "normal"): \(cmdline)")
        if let pool = kernel.swiotlbPool {
            print("   SWIOTLB pool \(pool.region): \(pool.slotCount) slots of \(SWIOTLB.slotSize) bytes in \(pool.areaCount) area(s), shared with the hypervisor")
        } else {
            print("   no SWIOTLB pool: the device reaches the guest's buffers directly")
        }

        // 3. The driver probes the device and gets a dma-coherent queue page.
        let driver: VirtualBlockDriver
        let source: GuestPhysicalAddress
        let target: GuestPhysicalAddress
        do {
            driver = try kernel.probeVirtualBlockDevice()
            source = try kernel.allocateMemory(bytes: UInt64(bytes), purpose: "example source")
            target = try kernel.allocateMemory(bytes: UInt64(bytes), purpose: "example target")
        } catch {
            return try fail(1, "driver set-up failed: \(error)")
        }
        print("   driver: unit 0x\(String(driver.unitAddress, radix: 16)), queue at \(driver.queueAddress) (\(describe(vm, driver.queueAddress.rawValue)))")
        print("   buffers: source \(source) (\(describe(vm, source.rawValue))), target \(target)")

        // 4. Guest → disk, then disk → guest, and compare.
        let data = Self.pattern(count: bytes)
        let vcpu = vm.machine.bootProcessor
        do {
            try vcpu.write(at: source, bytes: data, purpose: "example: fill the source buffer")
            try driver.write(sector: 0, from: source, byteCount: bytes, cpu: 1)
        } catch {
            return try fail(1, "write failed: \(error)")
        }
        let onDisk = device.contents(sector: 0, byteCount: bytes) == data
        print("== wrote \(bytes) bytes to sectors 0..<\(bytes / VirtualBlockProtocol.sectorSize): disk contents \(onDisk ? "match" : "DIFFER")")
        let readBack: [UInt8]
        do {
            try driver.read(sector: 0, into: target, byteCount: bytes)
            readBack = try vcpu.read(at: target, count: bytes, purpose: "example: check the target buffer")
        } catch {
            return try fail(1, "read failed: \(error)")
        }
        let intact = readBack == data
        print("== read them back into the target buffer: \(intact ? "every byte matches" : "bytes DIFFER")")

        // 5. What moved where.
        let dma = kernel.dmaStatistics
        let disk = device.statistics
        let audit = kernel.audit("after block I/O")
        let violations = audit.isolationViolations
        print("   dma_map_single: \(dma.mappings) mapping(s), \(dma.bouncedMappings) bounced, \(dma.bouncedBytes) bytes bounced")
        print("   driver: \(driver.statistics.requests) request(s), \(driver.statistics.descriptors) descriptor(s), \(driver.statistics.kicks) doorbell(s) (H_VIO_SIGNAL)")
        print("   device: \(disk.writes) write(s), \(disk.reads) read(s), \(disk.errors) error(s)")
        if let pool = kernel.swiotlbPool { print("   pool: \(pool.statistics)") }
        print("   \(audit)")
        var problems: [String] = []
        if !onDisk { problems.append("the disk does not hold what was written") }
        if !intact { problems.append("the bytes read back differ") }
        if violations > 0 { problems.append("\(violations) isolation violation(s)") }
        if !audit.isClean { problems.append("the shared-page audit is not clean") }
        if report.secure && (dma.bouncedMappings != dma.mappings || dma.bouncedBytes != 2 * UInt64(bytes)) {
            problems.append("a secure guest's mapping did not bounce")
        }
        if (kernel.swiotlbPool?.statistics.usedSlots ?? 0) != 0 { problems.append("slots are still mapped") }
        guard problems.isEmpty else { return try fail(1, problems.joined(separator: "; ")) }
        print("OK: \(2 * bytes) bytes moved \(report.secure ? "through the bounce pool" : "directly"); 0 isolation violations")
    }

    /// The state of the page holding `address`, e.g. `secure` or `shared`.
    private func describe(_ vm: SecureVirtualMachine, _ address: UInt64) -> String {
        vm.machine.memory.state(of: GuestPhysicalAddress(address).frame).map { "page \($0)" } ?? "no page"
    }

    /// A deterministic byte pattern (xorshift64).
    static func pattern(count: Int) -> [UInt8] {
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        return (0..<count).map { _ in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    private func fail(_ status: Int32, _ message: String) throws {
        FileHandle.standardError.write(Data("VirtioBlockOverSWIOTLB: \(message)\n".utf8))
        throw ExitCode(status)
    }
}
