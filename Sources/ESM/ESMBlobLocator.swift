import DeviceTree

/// Where the Ultravisor found the ESM blob in an initrd, and which part of the initrd it
/// then hashes.
public struct ESMBlobLocation: Sendable, Hashable {
    /// The offset of the blob (its FDT magic) in the initrd bytes.
    public var blobOffset: Int
    /// The blob: `totalsize` bytes from ``blobOffset``.
    public var blob: [UInt8]
    /// The cpio entry holding it (e.g. `opt/ibm/pef/esmb.dtb`).
    public var entryName: String
    /// The part of the initrd the Ultravisor hashes for the `initrd` digest: from the end
    /// of the `TRAILER!!!` entry rounded up to 512 bytes, to the end of the initrd.
    public var hashedRange: Range<Int>
    /// Whether the walk reached `TRAILER!!!` (if not, the whole initrd is hashed).
    public var trailerFound: Bool
    /// Where the Ultravisor's walk does something surprising on this input (see
    /// ``ESMBlobLocator``), so a caller can show it.
    public var notes: [String]
}

/// Finds the ESM blob in an initrd exactly as the Ultravisor does.
///
/// Models `svm_esm_cpio_esmb()` and `svm_esm_esmb_magic_scan()` in
/// `open-power/ultravisor svm/svm-esm.c` (reference/ultravisor-facts.md §2.6 step 4b):
///
/// 1. The walk starts at ALIGN_UP(initrd start, 4) and reads newc headers (magic
///    `070701`, 110 bytes; `namesize` and `filesize` parsed with `strtoul(…, 16)` over
///    their 8 characters); name and data are each padded to 4 bytes (alignment is of the
///    guest address, so an unaligned initrd start shifts it).
/// 2. A header without the magic ends the walk.
/// 3. An entry with `namesize` 0xB named `TRAILER!!!` ends the walk; its end rounded up
///    to 512 bytes is `offset`.
/// 4. While no blob is found, every entry with a non-zero `filesize` must have a name
///    starting with `opt/ibm/pef` (else -ENOENT), and its data is scanned word by word
///    (4-byte aligned) for the FDT magic 0xd00dfeed; the first match is the blob.
/// 5. With a blob found, the hashed initrd becomes [start + offset, end).
///
/// Quirks reproduced (each adds a note): `offset` is measured from the aligned start but
/// added to the unaligned one; a walk that ends without `TRAILER!!!` leaves `offset` 0,
/// so the whole initrd (blob archive included) is hashed; a header without magic after
/// the blob jumps past the adjustment, with the same effect; a `filesize` that is not a
/// multiple of 4 makes the word scan's counter wrap, so the scan runs on past the file.
///
/// Where the real code would read past the end of the initrd (an entry or a blob
/// `totalsize` running past it), this model stops with an error instead.
public enum ESMBlobLocator {
    /// `CPIO_PATH_PEF`: the name prefix the first non-empty entry must have.
    public static let pefPrefix = "opt/ibm/pef"

    /// Finds the blob in `initrd`, which starts at guest address `startAddress`
    /// (`/chosen/linux,initrd-start`).
    /// - Throws: `.blobNotFound` naming the entry or offset where the walk failed.
    public static func locate(inInitrd initrd: [UInt8], startAddress: UInt64 = 0) throws(ESMError) -> ESMBlobLocation {
        let count = initrd.count
        func alignUp(_ index: Int, _ a: UInt64) -> Int {
            let abs = startAddress &+ UInt64(index)
            return index + Int((a - abs % a) % a)
        }
        let startHeader = alignUp(0, 4)
        var notes: [String] = []
        if startHeader != 0 {
            notes.append("initrd start 0x\(String(startAddress, radix: 16)) is not 4-byte aligned: the walk starts \(startHeader) bytes in, but the hashed range is offset from the unaligned start")
        }
        var cur = startHeader
        var cpioLen = UInt64(count)
        var blobOffset: Int?
        var blobEntry = ""
        var offset = 0
        var trailerFound = false
        var endedByBadMagic = false

        walk: while cpioLen > 0 {
            guard cur + CPIOArchive.headerSize <= count else {
                notes.append(
                    "the walk reached the end of the initrd at offset \(cur) without a TRAILER!!! entry (the Ultravisor would read on past it"
                        + (blobOffset != nil ? "; with the blob found, it skips the adjustment and hashes the whole initrd)" : ")"))
                endedByBadMagic = true
                break walk
            }
            guard Array(initrd[cur..<cur + 6]) == CPIOArchive.magic else {
                endedByBadMagic = true
                if blobOffset != nil {
                    notes.append("a header without magic at offset \(cur) ends the walk after the blob was found: the Ultravisor then skips the initrd adjustment and hashes the whole initrd")
                }
                break walk
            }
            let fileSize = strtoul16(initrd[cur + 54..<cur + 62])
            let nameSize = strtoul16(initrd[cur + 94..<cur + 102])
            let nameStart = cur + CPIOArchive.headerSize
            guard let ns = Int(exactly: nameSize), let fs = Int(exactly: fileSize), ns <= count - nameStart,
                fs <= count  // keeps the arithmetic below in range
            else {
                throw ESMError(
                    .blobNotFound,
                    "cpio entry at offset \(cur): namesize 0x\(String(nameSize, radix: 16)) or filesize 0x\(String(fileSize, radix: 16)) runs past the end of the \(count)-byte initrd")
            }
            let dataStart = alignUp(nameStart + ns, 4)
            var next = alignUp(dataStart + fs, 4)
            let nameBytes = Array(initrd[nameStart..<nameStart + ns])
            let cName = Array(nameBytes.prefix { $0 != 0 })
            let name = String(decoding: cName, as: UTF8.self)

            if ns == 0xB, nameBytes == Array("TRAILER!!!".utf8) + [0] {
                next = alignUp(next, 512)
                offset = next - startHeader
                trailerFound = true
                break walk
            }
            guard next <= count else {
                throw ESMError(
                    .blobNotFound,
                    "cpio entry \(name.debugDescription) at offset \(cur): its data (filesize \(fs)) runs past the end of the \(count)-byte initrd")
            }
            if fs != 0, blobOffset == nil {
                guard cName.count >= 11, Array(cName.prefix(11)) == Array(pefPrefix.utf8) else {
                    throw ESMError(
                        .blobNotFound,
                        "the first non-empty cpio entry without a blob, \(name.debugDescription) at offset \(cur), is not under \(pefPrefix) (the Ultravisor returns -ENOENT)")
                }
                var p = dataStart
                var remaining = UInt64(fs)
                var wrapped = false
                while remaining > 0, p + 4 <= count {
                    if BigEndianCells.u32(initrd, at: p) == DeviceTree.magic {
                        blobOffset = p
                        blobEntry = name
                        break
                    }
                    p += 4
                    if remaining < 4 { wrapped = true }
                    remaining &-= 4
                }
                if wrapped {
                    notes.append("entry \(name.debugDescription) has filesize \(fs), not a multiple of 4: the Ultravisor's word scan counter wraps and the scan continues past the file")
                }
            }
            let step = UInt64(next - cur)
            cpioLen = cpioLen >= step ? cpioLen - step : UInt64.max
            cur = next
        }

        guard let blobOffset else {
            throw ESMError(
                .blobNotFound,
                trailerFound || endedByBadMagic && cur > startHeader
                    ? "no FDT magic (0xd00dfeed) in any non-empty entry under \(pefPrefix) before the end of the cpio walk at offset \(cur)"
                    : "no newc cpio header (magic 070701) at offset \(cur) of the initrd: no ESM blob archive in front of it")
        }
        if !trailerFound && !endedByBadMagic {
            notes.append("the walk used up the initrd length without a TRAILER!!! entry: offset stays 0 and the whole initrd is hashed")
        }
        if !trailerFound { offset = 0 }
        guard offset <= count else {
            throw ESMError(
                .blobNotFound,
                "the blob archive ends at offset \(offset) (TRAILER!!! rounded up to 512), past the end of the \(count)-byte initrd")
        }
        guard blobOffset + 8 <= count else {
            throw ESMError(.blobNotFound, "ESM blob at offset \(blobOffset): its header runs past the end of the initrd")
        }
        let total = Int(BigEndianCells.u32(initrd, at: blobOffset + 4))
        guard total >= DeviceTree.headerSize, total <= count - blobOffset else {
            throw ESMError(
                .blobNotFound,
                "ESM blob at offset \(blobOffset): header totalsize \(total) is under 40 bytes or runs past the end of the \(count)-byte initrd")
        }
        return ESMBlobLocation(
            blobOffset: blobOffset, blob: Array(initrd[blobOffset..<blobOffset + total]), entryName: blobEntry,
            hashedRange: offset..<count, trailerFound: trailerFound, notes: notes)
    }

    /// C's `strtoul(text, NULL, 16)` over an 8-character field copied with
    /// `snprintf("%s")`: stops at a NUL, skips leading white space, takes an optional
    /// sign and `0x` prefix, then hex digits up to the first other character. A minus
    /// sign negates modulo 2^64, as `strtoul` does.
    static func strtoul16(_ field: ArraySlice<UInt8>) -> UInt64 {
        var chars = Array(field.prefix { $0 != 0 })
        while let c = chars.first, c == 0x20 || (0x09...0x0D).contains(c) { chars.removeFirst() }
        var negative = false
        if let c = chars.first, c == 0x2B || c == 0x2D {
            negative = c == 0x2D
            chars.removeFirst()
        }
        if chars.count >= 3, chars[0] == 0x30, chars[1] | 0x20 == 0x78, hexValue(chars[2]) != nil { chars.removeFirst(2) }
        var v: UInt64 = 0
        for c in chars {
            guard let d = hexValue(c) else { break }
            v = v << 4 | UInt64(d)
        }
        return negative ? 0 &- v : v
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
