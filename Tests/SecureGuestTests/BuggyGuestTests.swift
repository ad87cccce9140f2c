import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import Testing

@testable import SecureGuest
import PEFTestSupport

/// Guests that forget to share (issue 6) and other buggy variants (issue 8 item 4):
/// the simulator or the SWIOTLB library catches each, with the culprit named.
///
/// These run with `HypervisorTouch.stop` (`--hv-touch stop`, the debugging mode): the
/// hypervisor's access to a secure page fails at once, so the call that touched it
/// fails where it touched it. The default, as on KVM (the page paged out and read as
/// ciphertext, the damage showing later), is covered for every bug by the SVMKit
/// tests' `HypervisorTouchBootTests`.
@Suite("Buggy guests")
struct BuggyGuestTests {
    static func boot(_ bugs: Set<GuestBug>, cpus: Int = 2, disk: Bool = false) throws -> (
        GuestTestMachine, GuestKernel, GuestBootReport
    ) {
        let t = try GuestTestMachine(
            cpus: cpus, bootargs: "swiotlb=2048,force", diskSectors: disk ? 4096 : nil, hypervisorTouch: .stop)
        try t.makeSecure()
        let (kernel, report) = try t.boot(GuestKernelOptions(bugs: bugs))
        return (t, kernel, report)
    }

    @Test("Forgetting to share the LPPACA region: H_REGISTER_VPA's read is caught, address and owner named")
    func lppaca() throws {
        let (t, kernel, report) = try Self.boot([.skipLPPACAShare])
        #expect(report.shareCalls[.lppaca] == nil)
        #expect(report.vpaFailures.map(\.cpu) == [0, 1])
        #expect(report.vpaFailures.allSatisfy { $0.status == .parameter })
        let v = try #require(t.memory.violations.first)
        #expect(v.address.rawValue == report.lppacas[0].rawValue + 4)
        #expect(v.purpose == "H_REGISTER_VPA: VPA of vcpu 0")
        #expect(v.caller.kind == .hypervisor)
        let fault = try #require(kernel.diagnose().first { $0.kind == .isolationViolation })
        #expect(fault.address == report.lppacas[0].advanced(by: 4))
        #expect(fault.owner == .lppaca)
        #expect(fault.culprit == "alloc_shared_lppaca() did not share it")
        #expect(kernel.diagnose().contains { $0.kind == .registrationFailed && $0.owner == .lppaca })
    }

    @Test("Forgetting to share the DTL pages: the registration read is caught, address and owner named")
    func dtl() throws {
        let (t, kernel, report) = try Self.boot([.skipDTLShare])
        #expect(report.dtlSharedPages == 0)
        #expect(report.dtlFailures.map(\.cpu) == [0, 1])
        let dtl0 = try #require(report.dispatchTraceLogs[0])
        let v = try #require(t.memory.violations.first)
        #expect(v.address.rawValue == dtl0.rawValue + 4)
        #expect(v.purpose == "H_REGISTER_VPA: DTL of vcpu 0")
        let fault = try #require(kernel.diagnose().first { $0.kind == .isolationViolation })
        #expect(fault.owner == .dtl)
        #expect(fault.culprit == "dtl_cache_ctor() did not share it")
    }

    @Test("Forgetting to share the bounce pool: the device's first DMA is caught, address and owner named")
    func bouncePool() throws {
        let (t, kernel, report) = try Self.boot([.skipBouncePoolShare], disk: true)
        #expect(report.swiotlb?.shared == false)
        #expect(kernel.audit("after boot").isClean)
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 1 << 16)
        var dmaAddress: UInt64 = 0
        #expect {
            try disk.write(sector: 0, from: buffer, byteCount: 1 << 16)
        } throws: { error in
            guard case .request(_, _, let dma, .dmaError) = error as? BlockIOError else { return false }
            dmaAddress = dma
            return true
        }
        let pool = try #require(kernel.swiotlbPool)
        #expect(pool.contains(dmaAddress))
        let v = try #require(t.memory.violations.first)
        #expect(v.address.rawValue == dmaAddress)
        #expect(v.purpose?.contains("virtual block device 0x71000010") == true)
        let fault = try #require(kernel.diagnose().first { $0.kind == .isolationViolation })
        #expect(fault.address == GuestPhysicalAddress(dmaAddress))
        #expect(fault.owner == .swiotlb)
        #expect(fault.culprit == "swiotlb_update_mem_attributes() did not share it")
        #expect(kernel.swiotlbPool?.statistics.usedSlots == 0, "the failed request was unmapped")
    }

    @Test("Touching an implicitly shared page kills the SVM; the kill names the page")
    func implicitPage() throws {
        let t = try GuestTestMachine(cpus: 1, bootargs: "swiotlb=512,force")
        try t.makeSecure()
        let page = t.rtasBouncePages.lowerBound
        let (kernel, _) = try t.boot(GuestKernelOptions(bugs: [.touchImplicitPage], touchAfterBootAddress: GuestPhysicalAddress(page)))
        #expect(t.machine.isStopped)
        let fault = try #require(kernel.diagnose().first { $0.kind == .svmKilled })
        #expect(fault.address == GuestPhysicalAddress(page))
        #expect(fault.region == "reserve-map")
        #expect(fault.culprit == "the guest touched a page the Ultravisor shared implicitly")
        #expect(kernel.diagnose().contains(fault))
    }

    @Test("Unsharing a bounce page under a live mapping: the device's DMA is caught and the unsharer named")
    func unshareWhileMapped() throws {
        let (t, kernel, _) = try Self.boot([.unshareBouncePageWhileMapped], disk: true)
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 1 << 16)
        #expect(throws: BlockIOError.self) { try disk.write(sector: 0, from: buffer, byteCount: 1 << 16) }
        #expect(t.memory.violationCount == 1)
        let fault = try #require(kernel.diagnose().first { $0.kind == .isolationViolation })
        #expect(fault.owner == .swiotlb)
        #expect(fault.culprit == "virtual block driver (bug) unshared it while the hypervisor still used it")
    }

    @Test("Double unmap and a sync past the end are refused by SWIOTLB and named")
    func swiotlbMisuse() throws {
        let (_, kernel, _) = try Self.boot([.doubleUnmap, .syncPastMappingEnd], disk: true)
        let disk = try kernel.probeVirtualBlockDevice()
        let buffer = try kernel.allocateMemory(bytes: 1 << 16)
        try disk.write(sector: 0, from: buffer, byteCount: 1 << 16)
        let misuse = kernel.faults.filter { $0.kind == .swiotlbMisuse }
        #expect(misuse.count == 2)
        #expect(misuse.contains { $0.culprit.contains("past the end of the mapping") && $0.owner == .swiotlb })
        #expect(misuse.contains { $0.culprit.contains("double unmap") })
        #expect(misuse.allSatisfy { kernel.swiotlbPool?.contains($0.address?.rawValue ?? 0) == true })
    }
}
