import PowerABI
import Testing

/// The LPPACA and Dispatch Trace Log layouts the guest and the hypervisor share
/// (`arch/powerpc/include/asm/lppaca.h`).
@Suite("Shared LPPACA and DTL layouts")
struct SharedStructureLayoutTests {
    @Test("struct lppaca: the fields the hypervisor touches lie inside the 640 bytes KVM checks, in field order")
    func lppacaOffsets() {
        let offsets = [
            LPPACALayout.descriptor, LPPACALayout.size, LPPACALayout.yieldCount, LPPACALayout.enqueueDispatchTB,
            LPPACALayout.readyEnqueueTB, LPPACALayout.dtlIndex,
        ]
        #expect(offsets == offsets.sorted())
        #expect(LPPACALayout.dtlIndex + 8 <= LPPACALayout.minimumSize)
        #expect(LPPACALayout.minimumSize <= LPPACALayout.allocationSize)
        // be64 fields are naturally aligned.
        for o in [LPPACALayout.enqueueDispatchTB, LPPACALayout.readyEnqueueTB, LPPACALayout.dtlIndex] {
            #expect(o % 8 == 0)
        }
        #expect(LPPACALayout.descriptorValue == 0xD397_D781)
    }

    @Test("struct dtl_entry: 48 big-endian bytes, each field at its offset")
    func dtlEntryEncoding() throws {
        let entry = DispatchTraceLogEntry(
            dispatchReason: 7, preemptReason: 2, processorID: 0x0102, enqueueToDispatchTime: 0x0304_0506,
            readyToEnqueueTime: 0x0708_090A, waitingToReadyTime: 0x0B0C_0D0E, timebase: 0x1112_1314_1516_1718,
            faultAddress: 0x2122_2324_2526_2728, srr0: 0x3132_3334_3536_3738, srr1: 0x4142_4344_4546_4748)
        let bytes = entry.encoded
        #expect(bytes.count == DispatchTraceLogEntry.byteCount)
        #expect(Array(bytes[0..<4]) == [7, 2, 0x01, 0x02])
        #expect(Array(bytes[4..<8]) == [3, 4, 5, 6])
        #expect(Array(bytes[16..<18]) == [0x11, 0x12])
        #expect(Array(bytes[40..<48]) == [0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48])
        let decoded = try #require(DispatchTraceLogEntry(decoding: bytes))
        #expect(decoded == entry)
        #expect(decoded.stolenTicks == 0x0304_0506 + 0x0708_090A)
        #expect(DispatchTraceLogEntry(decoding: Array(bytes.dropLast())) == nil)
    }
}
