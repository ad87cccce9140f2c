@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// A normal guest shares nothing and makes no ultracalls.
@Suite("Normal guest boot")
struct NormalBootRuntimeTests {
    @Test("No share calls at all: separate LPPACAs, no bounce pool, sysfs 0, doorbells allowed")
    func normalBoot() throws {
        let t = try GuestTestMachine(cpus: 4, bootargs: "console=hvc0")
        let (kernel, report) = try t.boot()
        #expect(!report.secure)
        #expect(t.ultracallCount == 0, "\(t.machine.trace.counts)")
        #expect(t.machine.trace.count(of: "UV_SHARE_PAGE") == 0)
        #expect(report.shareCalls.isEmpty)
        #expect(kernel.ledger.entries.isEmpty)
        #expect(report.sharedLPPACARegion == nil)
        #expect(report.lppacas.allSatisfy { $0.rawValue % 0x400 == 0 })
        #expect(Set(report.lppacas.map(\.frame)).count >= 1)
        #expect(report.swiotlb == nil)
        #expect(!report.dmaForcedBounce)
        #expect(report.sysfsSVM == "0\n")
        #expect(report.ipi.doorbells)
        // The hypervisor reaches a normal guest's VPAs and DTLs directly.
        for cpu in 0..<4 {
            #expect(t.hypervisor.registration(of: cpu)?.vpa == report.lppacas[cpu])
            try t.hypervisor.dispatch(vcpu: cpu, on: t.machine)
            #expect(try kernel.scanDispatchLog(cpu: cpu).entries.count == 1)
        }
        #expect(t.memory.violationCount == 0)
        #expect(kernel.audit("after boot").isClean)
        #expect(kernel.audit("after boot").explicitlyShared == 0)
    }

    @Test("A normal guest starts its stopped secondaries through the hypervisor's RTAS")
    func startCPU() throws {
        let t = try GuestTestMachine(cpus: 3)
        #expect(!t.machine.processors[2].snapshot.isRunning)
        let (_, report) = try t.boot()
        #expect(t.machine.processors.allSatisfy { $0.snapshot.isRunning && !$0.isSecure })
        #expect(t.hypervisor.log.contains { $0.hasPrefix("RTAS start-cpu 2") })
        #expect(t.hypervisor.registration(of: 2)?.vpa == report.lppacas[2])
        #expect(t.ultracallCount == 0)
    }

    @Test("set_memory_decrypted and set_memory_encrypted are no-ops on a normal guest")
    func encryptionNoOps() throws {
        let t = try GuestTestMachine(cpus: 1)
        let (kernel, _) = try t.boot()
        try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x200_0000), pageCount: 4)
        try kernel.setMemoryEncrypted(GuestPhysicalAddress(0x200_0000), pageCount: 4)
        #expect(t.ultracallCount == 0)
        #expect(kernel.ledger.entries.isEmpty)
        // svm.c (6.12): cc_platform_has() is tested before alignment, so a normal guest
        // returns 0 even for an unaligned address (this used to expect -EINVAL).
        try kernel.setMemoryDecrypted(GuestPhysicalAddress(0x200_0800), pageCount: 1)
        #expect(t.ultracallCount == 0)
    }

    @Test("swiotlb=force on a normal guest bounces without sharing")
    func forcedBounceWithoutSharing() throws {
        let t = try GuestTestMachine(cpus: 2, bootargs: "swiotlb=2048,force", diskSectors: 4096)
        let (kernel, report) = try t.boot()
        let pool = try #require(report.swiotlb)
        #expect(!pool.shared)
        #expect(pool.base.rawValue + UInt64(pool.bytes) <= 1 << 32)
        let disk = try kernel.probeVirtualBlockDevice()
        let data = pattern(512 * 1024, seed: 3)
        let buffer = try kernel.allocateMemory(bytes: UInt64(data.count))
        try t.boot.write(at: buffer, bytes: data)
        try disk.write(sector: 0, from: buffer, byteCount: data.count)
        #expect(t.disk?.contents(sector: 0, byteCount: data.count) == data)
        #expect(kernel.dmaStatistics.bouncedBytes == UInt64(data.count))
        #expect(t.ultracallCount == 0)
    }
}
