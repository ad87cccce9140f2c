import SecureGuest
import Testing

@testable import SVMKitSoak
@testable import SWIOTLB

/// The soak's bidirectional map retries a full pool as the block driver requeues.
@Suite("Soak map retry")
struct SoakMapRetryTests {
    static func full(used: Int, needed: Int) -> DMAError {
        .swiotlb(
            .exhausted(
                SWIOTLBExhaustion(
                    poolSize: 1 << 20, totalSlots: 512, requestSize: needed * SWIOTLB.slotSize,
                    allocationSize: needed * SWIOTLB.slotSize, slotsNeeded: needed, allocAlignMask: 0, minAlignMask: 0,
                    effectiveAlignment: SWIOTLB.slotSize, usedSlots: used, highWaterSlots: 512, largestFreeRun: 0,
                    largestFreeRunArea: 0, startArea: 0, areaCount: 1, linux61: false)))
    }

    /// Before: a full pool whose count (taken after the failed search) read 0 used slots
    /// failed the operation, though the other vCPUs had only released their mappings in
    /// between: a soak failure depending on thread interleaving.
    @Test("A full pool is retried whatever its used count; more than a segment, or another error, is not")
    func retries() {
        #expect(SoakWorker.retriesMap(after: Self.full(used: 0, needed: 33)))
        #expect(SoakWorker.retriesMap(after: Self.full(used: 400, needed: 33)))
        #expect(!SoakWorker.retriesMap(after: Self.full(used: 400, needed: 129)))
        #expect(!SoakWorker.retriesMap(after: .invalidSize(0)))
    }
}
