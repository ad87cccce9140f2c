import HostMapping
import Testing

/// The one anonymous host mapping under guest RAM and `HostBounceMemory`.
@Suite struct AnonymousMappingTests {
    @Test func aMappingIsZeroFilledAndWritable() throws {
        let mapping = try #require(AnonymousMapping(byteCount: 3 * 4096 + 5))
        #expect(mapping.byteCount == 3 * 4096 + 5)
        let bytes = UnsafeMutableRawBufferPointer(start: mapping.base, count: mapping.byteCount)
        #expect(bytes.allSatisfy { $0 == 0 })
        bytes[mapping.byteCount - 1] = 0xA5
        #expect(bytes[mapping.byteCount - 1] == 0xA5)
    }

    @Test func aSizeThatIsNotPositiveMapsNothing() {
        #expect(AnonymousMapping(byteCount: 0) == nil)
        #expect(AnonymousMapping(byteCount: -4096) == nil)
    }

    /// ARCHITECTURE.md, memory model: with MAP_NORESERVE a 64 GiB guest costs nothing
    /// until touched, even under overcommit mode 0 (where a plain mapping of that size
    /// fails with ENOMEM on a 24 GiB host).
    @Test func sixtyFourGiBAreReservedLazily() throws {
        let mapping = try #require(AnonymousMapping(byteCount: 64 << 30))
        mapping.base.storeBytes(of: 0x5A, toByteOffset: (64 << 30) - 1, as: UInt8.self)
        #expect(mapping.base.load(fromByteOffset: (64 << 30) - 1, as: UInt8.self) == 0x5A)
    }
}
