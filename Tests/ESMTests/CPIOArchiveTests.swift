import ESM
import Testing

@Suite("newc cpio reader and writer")
struct CPIOArchiveTests {
    @Test("Write then read gives the entries back, 4-byte aligned, padded to 512")
    func roundTrip() throws {
        let entries = [
            CPIOEntry(name: "dir", inode: 7, mode: CPIOEntry.directoryMode, linkCount: 2, modificationTime: 0x5F00_0000),
            CPIOEntry(name: "dir/a", inode: 8, data: [1, 2, 3, 4, 5]),
            CPIOEntry(name: "dir/b", inode: 9, uid: 1000, gid: 100, data: []),
        ]
        let bytes = try CPIOArchive.write(entries)
        #expect(bytes.count % 512 == 0)
        let read = try CPIOArchive.read(bytes)
        #expect(read.records.map(\.entry) == entries)
        #expect(read.records.allSatisfy { $0.headerOffset % 4 == 0 && $0.dataOffset % 4 == 0 })
        #expect(read.paddedEnd == bytes.count)
        #expect(read.records[0].entry.isDirectory && !read.records[1].entry.isDirectory)
    }

    /// A one-entry archive for corrupting.
    static func sample() throws -> [UInt8] { try CPIOArchive.write([CPIOEntry(name: "file", data: Array("hello".utf8))]) }

    @Test("Malformed archives give the matching typed error")
    func malformed() throws {
        let good = try Self.sample()
        func expect(_ bytes: [UInt8], _ matches: (CPIOError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) { try CPIOArchive.read(bytes) } throws: { e in (e as? CPIOError).map(matches) ?? false }
        }
        expect(Array(good.prefix(50))) { if case .truncatedHeader(0, 50) = $0 { true } else { false } }
        expect(Array("070702".utf8) + good.dropFirst(6)) { if case .badMagic(0, "070702") = $0 { true } else { false } }
        var b = good
        b[6] = UInt8(ascii: "g")
        expect(b) { if case .badField(0, "c_ino", _) = $0 { true } else { false } }
        // namesize past the end.
        b = good
        b.replaceSubrange(94..<102, with: Array("7FFFFFFF".utf8))
        expect(b) { if case .nameOutOfBounds = $0 { true } else { false } }
        b.replaceSubrange(94..<102, with: Array("00000000".utf8))
        expect(b) { if case .nameOutOfBounds = $0 { true } else { false } }
        // A huge filesize.
        b = good
        b.replaceSubrange(54..<62, with: Array("FFFFFFFF".utf8))
        expect(b) { if case .dataOutOfBounds(0, "file", 0xFFFF_FFFF, _) = $0 { true } else { false } }
        // The name's NUL replaced.
        b = good
        b[110 + 4] = UInt8(ascii: "x")
        expect(b) { if case .nameNotTerminated(0) = $0 { true } else { false } }
        // No trailer.
        let noTrailer = try CPIOArchive.write([CPIOEntry(name: "f", data: [1])], blockSize: 1)
        let cut = Array(noTrailer.prefix(noTrailer.count - 124))
        expect(cut) { if case .missingTrailer = $0 { true } else { false } }
        // Random corruption never crashes.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var c = good
            c[Int.random(in: 0..<c.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = try? CPIOArchive.read(c)
            _ = try? ESMBlobLocator.locate(inInitrd: c)
        }
    }
}
