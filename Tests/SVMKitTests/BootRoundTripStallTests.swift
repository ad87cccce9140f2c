import Foundation
import PowerABI
import SWIOTLB
import SecureGuest
import Testing

@testable import SVMKit

/// The boot's block round trip is alone: a map that finds the pool full would be
/// requeued for ever by Linux (`BLK_STS_RESOURCE`), so SVMKit reports an I/O stall
/// at once instead of an I/O error or a wait.
@Suite("Boot round trip on a full pool")
struct BootRoundTripStallTests {
    @Test("With every bounce slot held, the round trip stalls: not passed, the stall names the request and the fix")
    func stalls() throws {
        let vm = try SecureVirtualMachine(configuration: FaultWalkFixture.configuration)
        _ = vm.boot()
        let kernel = try #require(vm.kernel)
        let pool = try #require(kernel.swiotlbPool)
        let source = try kernel.allocateMemory(bytes: 256 << 10, purpose: "held mappings")
        for _ in 0..<(pool.slotCount / SWIOTLB.segmentSlots) {
            _ = try kernel.dmaMapSingle(source, size: 256 << 10, direction: .toDevice)
        }
        #expect(pool.statistics.usedSlots == pool.slotCount)
        let check = vm.exerciseBlockDevice(bytes: 64 << 10)
        #expect(!check.passed && !check.corrupted)
        let stall = try #require(check.stall, "\(check.detail)")
        // No wait (nothing else would release): the round trip's driver has no requeue
        // timeout. Checked on the stall, not on wall time, which a loaded machine stretches.
        #expect(stall.waitedSeconds == 0, "no wait: nothing else would release")
        #expect(stall.reason == .nothingReleased && stall.operation == "write" && stall.byteCount == 64 << 10)
        #expect(stall.usedSlots == pool.slotCount && stall.slotsNeeded == 32)
        #expect(stall.suggestedSwiotlb == "swiotlb=\(2 * pool.slotCount),force")
        #expect(check.detail.hasPrefix("stalled: I/O stall"), "\(check.detail)")
        let report = vm.report()
        #expect(!report.endedAsRequested, "boot exits 1")
        #expect(report.blockDeviceCheck?.stall == stall)
    }
}
