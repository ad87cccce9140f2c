import ESM
import FuzzSupport

/// libFuzzer's entry point for the `cpio` target: the input is an initrd (a newc
/// archive, or anything). The first byte also chooses the initrd's guest start
/// address modulo 8, which moves the Ultravisor's 4-byte alignment.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCPIO(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    CPIOFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// Writes the seeds (`Scripts/fuzz cpio --write-seeds`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzCPIOInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: FuzzArgv?) -> Int32 {
    fuzzWriteSeedsIfAsked(CPIOFuzzer.seeds)
    return 0
}

/// What the `cpio` target checks, for any bytes:
///
/// - ``CPIOArchive/read(_:from:)`` throws its typed ``CPIOError`` or returns records
///   that lie inside the input, in order, whose data are the bytes at their offsets;
///   writing the entries back and reading them again gives the same entries;
/// - ``ESMBlobLocator/locate(inInitrd:startAddress:)`` (the Ultravisor's blob
///   discovery) throws its typed ``ESMError`` or returns a blob that is the input's
///   bytes at its offset, begins with the FDT magic, and a hashed range inside the input.
enum CPIOFuzzer {
    static func run(_ bytes: [UInt8]) {
        let start = UInt64(bytes.first ?? 0) % 8
        checkRead(bytes, from: 0)
        if bytes.count > 4 { checkRead(bytes, from: 4) }
        checkLocate(bytes, startAddress: 0x200_0000 + start)
    }

    static func checkRead(_ bytes: [UInt8], from offset: Int) {
        let contents: CPIOArchive.Contents
        do {
            contents = try CPIOArchive.read(bytes, from: offset)
        } catch {
            fuzzRequire(!error.description.isEmpty, "CPIOError without a description")
            return
        }
        var last = offset
        for r in contents.records {
            fuzzRequire(r.headerOffset == last, "record at \(r.headerOffset), expected \(last)")
            fuzzRequire(r.headerOffset < r.dataOffset && r.dataOffset <= r.endOffset && r.endOffset <= bytes.count,
                "record offsets \(r.headerOffset) \(r.dataOffset) \(r.endOffset) for \(bytes.count) bytes")
            fuzzRequire(r.dataOffset + r.entry.data.count <= bytes.count
                && Array(bytes[r.dataOffset..<r.dataOffset + r.entry.data.count]) == r.entry.data,
                "\(r.entry.name): data is not the bytes at its offset")
            last = r.endOffset
        }
        fuzzRequire(contents.trailerEnd >= last && contents.trailerEnd <= bytes.count, "trailer end \(contents.trailerEnd)")
        _ = contents.paddedEnd

        let entries = contents.records.map(\.entry)
        let written: [UInt8]
        do {
            written = try CPIOArchive.write(entries)
        } catch {
            fuzzFail("entries read from an archive cannot be written back: \(error)")
        }
        do {
            let again = try CPIOArchive.read(written)
            fuzzRequire(again.records.map(\.entry) == entries, "write-then-read changes the entries")
        } catch {
            fuzzFail("an archive written from read entries does not read back: \(error)")
        }
    }

    static func checkLocate(_ bytes: [UInt8], startAddress: UInt64) {
        let location: ESMBlobLocation
        do {
            location = try ESMBlobLocator.locate(inInitrd: bytes, startAddress: startAddress)
        } catch {
            fuzzRequire(!error.message.isEmpty, "ESMError without a message")
            return
        }
        let o = location.blobOffset
        fuzzRequire(o >= 0 && o + location.blob.count <= bytes.count, "blob at \(o) + \(location.blob.count) of \(bytes.count)")
        fuzzRequire(Array(bytes[o..<o + location.blob.count]) == location.blob, "the blob is not the bytes at its offset")
        fuzzRequire(location.blob.starts(with: [0xD0, 0x0D, 0xFE, 0xED]), "the blob does not start with the FDT magic")
        fuzzRequire(location.hashedRange.lowerBound >= 0 && location.hashedRange.upperBound <= bytes.count,
            "hashed range \(location.hashedRange) of \(bytes.count) bytes")
    }

    /// Archives as `cpio -o -H newc` and `svm-tool esm add` lay them out.
    static func seeds() -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        func add(_ name: String, _ make: () throws -> [UInt8]) {
            do { out.append((name, try make())) } catch { fuzzFail("seed \(name): \(error)") }
        }
        let dir = CPIOEntry(name: "opt", mode: CPIOEntry.directoryMode, linkCount: 2)
        let file = CPIOEntry(name: "init", mode: CPIOEntry.regularFileMode, linkCount: 1, data: Array("#!/bin/sh\necho hi\n".utf8))
        add("plain") { try CPIOArchive.write([dir, file], blockSize: 4) }
        add("odd-sizes") {
            try CPIOArchive.write([CPIOEntry(name: "a", mode: CPIOEntry.regularFileMode, linkCount: 1, data: [1, 2, 3]),
                                   CPIOEntry(name: "bb", mode: CPIOEntry.regularFileMode, linkCount: 1, data: [4, 5, 6, 7, 8])], blockSize: 1)
        }
        // A tiny FDT standing in for the blob: the locator only needs the magic and totalsize.
        let fdt: [UInt8] = [0xD0, 0x0D, 0xFE, 0xED, 0, 0, 0, 0x48, 0, 0, 0, 0x38, 0, 0, 0, 0x48, 0, 0, 0, 0x28,
                            0, 0, 0, 0x11, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]
            + [UInt8](repeating: 0, count: 16) + [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9]
        add("esm-initrd") { try ESMInitrd.blobArchive(fdt) + Array("070701 the rest of the initrd".utf8) }
        add("esm-only") { try ESMInitrd.blobArchive(fdt) }
        return out
    }
}
