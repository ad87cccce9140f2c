import DeviceTree
import ESM
import Testing

@Suite("Finding the blob in an initrd as the Ultravisor does (svm_esm_cpio_esmb, reference §2.6 step 4b)")
struct ESMBlobLocatorTests {
    static let blob: [UInt8] = { (try? ESMBlob.create(origin: ESMTestKeys.owner.publicKey).bytes) ?? [] }()
    static let original: [UInt8] = (0..<4099).map { UInt8(truncatingIfNeeded: $0 * 31) }

    @Test("svm add's layout: the blob is found and exactly the original initrd is hashed")
    func addThenLocate() throws {
        let initrd = try ESMInitrd.addBlob(Self.blob, to: Self.original)
        let loc = try ESMBlobLocator.locate(inInitrd: initrd)
        #expect(loc.blob == Self.blob)
        #expect(loc.entryName == "opt/ibm/pef/esmb.dtb")
        #expect(loc.trailerFound && loc.notes.isEmpty)
        #expect(Array(initrd[loc.hashedRange]) == Self.original)
        #expect(loc.hashedRange.lowerBound % 512 == 0)
        #expect(try ESMBlob(bytes: loc.blob).bytes == Self.blob)
    }

    @Test("The blob is found by FDT magic at any 4-byte-aligned offset in the file, not by name")
    func magicScan() throws {
        let data = [UInt8](repeating: 0xAB, count: 12) + Self.blob
        let archive = try CPIOArchive.write([
            CPIOEntry(name: "opt", mode: CPIOEntry.directoryMode), CPIOEntry(name: "opt/ibm/pefx/anything", data: data),
        ])
        let loc = try ESMBlobLocator.locate(inInitrd: archive + Self.original)
        #expect(loc.blob == Self.blob)
        #expect(loc.blobOffset == (try CPIOArchive.read(archive)).records[1].dataOffset + 12)
        #expect(loc.entryName == "opt/ibm/pefx/anything")
        #expect(Array((archive + Self.original)[loc.hashedRange]) == Self.original)
    }

    @Test("The first non-empty entry must be under opt/ibm/pef")
    func wrongFirstEntry() throws {
        let archive = try CPIOArchive.write([CPIOEntry(name: "init", data: [1, 2, 3]), CPIOEntry(name: "opt/ibm/pef/b", data: Self.blob)])
        #expect { try ESMBlobLocator.locate(inInitrd: archive) } throws: {
            ($0 as? ESMError)?.kind == .blobNotFound && "\($0)".contains("\"init\"") && "\($0)".contains("opt/ibm/pef")
        }
        // A plain initramfs with no blob archive in front.
        #expect { try ESMBlobLocator.locate(inInitrd: Self.original) } throws: { "\($0)".contains("070701") }
        // A pef entry without FDT magic.
        let nomagic = try CPIOArchive.write([CPIOEntry(name: "opt/ibm/pef/b", data: [1, 2, 3, 4])])
        #expect { try ESMBlobLocator.locate(inInitrd: nomagic) } throws: { "\($0)".contains("no FDT magic") }
    }

    @Test("An unaligned initrd start: the walk aligns, the hashed range is offset from the unaligned start (the firmware's quirk)")
    func unalignedStart() throws {
        let initrd = [0xEE, 0xEE] + (try ESMInitrd.addBlob(Self.blob, to: Self.original))
        let loc = try ESMBlobLocator.locate(inInitrd: initrd, startAddress: 0x1000_0002)
        #expect(loc.blob == Self.blob)
        // The walk starts at index 2 (address 0x10000004); the trailer's end rounds up to
        // the 512-byte boundary at address 0x10000000 + archive size, i.e. index size - 2,
        // and the firmware adds (size - 2) - 2 to the unaligned start: the hashed range
        // begins 6 bytes before the original initrd.
        let archiveSize = initrd.count - 2 - Self.original.count
        #expect(loc.hashedRange == (archiveSize - 4)..<initrd.count)
        #expect(Array(initrd[loc.hashedRange]) == [0, 0, 0, 0, 0, 0] + Self.original)
        #expect(!loc.notes.isEmpty)
    }

    @Test("Without TRAILER!!! the firmware leaves the offset at 0 and hashes the whole initrd")
    func noTrailer() throws {
        var archive = try CPIOArchive.write([CPIOEntry(name: "opt/ibm/pef/b", data: Self.blob)], blockSize: 1)
        archive.removeLast(124)  // drop the trailer entry
        let loc = try ESMBlobLocator.locate(inInitrd: archive + [0, 0, 0, 0])
        #expect(loc.blob == Self.blob && !loc.trailerFound)
        #expect(loc.hashedRange == 0..<(archive.count + 4))
        #expect(loc.notes.contains { $0.contains("whole initrd") })
    }

    @Test("Entries and blobs running past the end are errors, not reads past the buffer")
    func outOfBounds() throws {
        var initrd = try ESMInitrd.addBlob(Self.blob, to: [])
        // filesize of the blob entry made huge.
        let contents = try CPIOArchive.read(initrd)
        let h = contents.records[4].headerOffset
        initrd.replaceSubrange(h + 54..<h + 62, with: Array("7FFFFFF0".utf8))
        #expect { try ESMBlobLocator.locate(inInitrd: initrd) } throws: { ($0 as? ESMError)?.kind == .blobNotFound }
        // An FDT header claiming a huge totalsize.
        var big = try ESMInitrd.addBlob(Self.blob, to: [])
        let off = try ESMBlobLocator.locate(inInitrd: big).blobOffset
        big.replaceSubrange(off + 4..<off + 8, with: [0x7F, 0, 0, 0])
        #expect { try ESMBlobLocator.locate(inInitrd: big) } throws: { "\($0)".contains("totalsize") }
    }
}
