/// Reading and writing newc ("new ASCII", magic `070701`) cpio archives, the format of
/// Linux initramfs images and of the archive svm-tool's `svm add` puts in front of the
/// initrd (reference/ultravisor-facts.md §3.6).
///
/// Layout: each entry is a 110-byte ASCII header (`070701` then 13 fields of 8
/// upper-case hex digits), the NUL-terminated name padded so the data starts 4-byte
/// aligned, and the data padded to 4 bytes. The archive ends with `TRAILER!!!` and
/// GNU cpio pads it to a multiple of 512 bytes.
public enum CPIOArchive {
    /// The newc magic.
    public static let magic: [UInt8] = Array("070701".utf8)
    /// The header size in bytes.
    public static let headerSize = 110
    /// GNU cpio's block size: the archive is padded to a multiple of it.
    public static let blockSize = 512

    /// An entry read from an archive, with where it sits.
    public struct Record: Sendable, Hashable {
        /// The entry.
        public var entry: CPIOEntry
        /// The offset of its header in the bytes read.
        public var headerOffset: Int
        /// The offset of its data.
        public var dataOffset: Int
        /// The offset just past its data padding (the next header).
        public var endOffset: Int
    }

    /// The result of reading an archive.
    public struct Contents: Sendable, Hashable {
        /// The entries before the trailer, in order.
        public var records: [Record]
        /// The offset just past the trailer entry (before block padding).
        public var trailerEnd: Int
        /// `trailerEnd` rounded up to 512: where a following archive or initrd starts
        /// when the archive was written by GNU cpio.
        public var paddedEnd: Int { (trailerEnd + CPIOArchive.blockSize - 1) / CPIOArchive.blockSize * CPIOArchive.blockSize }
    }

    /// Reads entries from `offset` up to and including `TRAILER!!!`.
    /// - Throws: ``CPIOError`` for a truncated header, bad magic, a field that is not
    ///   hex, a name or data running past the end, or no trailer.
    public static func read(_ bytes: [UInt8], from offset: Int = 0) throws(CPIOError) -> Contents {
        var pos = offset
        var records: [Record] = []
        while true {
            guard pos < bytes.count else { throw .missingTrailer(offset: pos) }
            let available = bytes.count - pos
            guard available >= headerSize else { throw .truncatedHeader(offset: pos, available: available) }
            guard Array(bytes[pos..<pos + 6]) == magic else {
                throw .badMagic(offset: pos, found: String(decoding: bytes[pos..<pos + 6], as: UTF8.self))
            }
            var fields: [UInt32] = []
            for (i, name) in fieldNames.enumerated() {
                let start = pos + 6 + i * 8
                let text = bytes[start..<start + 8]
                guard let v = parseHex(text) else {
                    throw .badField(offset: pos, field: name, text: String(decoding: text, as: UTF8.self))
                }
                fields.append(v)
            }
            let nameSize = Int(fields[11]), fileSize = Int(fields[6])
            let nameStart = pos + headerSize
            guard nameSize >= 1, nameSize <= bytes.count - nameStart else {
                throw .nameOutOfBounds(offset: pos, nameSize: nameSize, available: bytes.count - nameStart)
            }
            guard bytes[nameStart + nameSize - 1] == 0 else { throw .nameNotTerminated(offset: pos) }
            let name = String(decoding: bytes[nameStart..<nameStart + nameSize - 1], as: UTF8.self)
            // An empty entry at the very end may lack its name padding.
            let dataStart = fileSize == 0 ? min(align4(nameStart + nameSize), bytes.count) : align4(nameStart + nameSize)
            guard dataStart <= bytes.count, fileSize <= bytes.count - dataStart else {
                throw .dataOutOfBounds(offset: pos, name: name, fileSize: fileSize, available: max(0, bytes.count - dataStart))
            }
            let end = min(align4(dataStart + fileSize), bytes.count)
            let entry = CPIOEntry(
                name: name, inode: fields[0], mode: fields[1], uid: fields[2], gid: fields[3], linkCount: fields[4],
                modificationTime: fields[5], deviceMajor: fields[7], deviceMinor: fields[8], rdevMajor: fields[9],
                rdevMinor: fields[10], check: fields[12], data: Array(bytes[dataStart..<dataStart + fileSize]))
            if name == CPIOEntry.trailerName { return Contents(records: records, trailerEnd: end) }
            records.append(Record(entry: entry, headerOffset: pos, dataOffset: dataStart, endOffset: end))
            pos = end
        }
    }

    /// Writes `entries`, then `TRAILER!!!`, then zeros up to a multiple of `blockSize`
    /// (GNU cpio's layout; pass 1 for no padding).
    /// - Throws: `.entryTooLarge` for a name or data over 4 GiB.
    public static func write(_ entries: [CPIOEntry], blockSize: Int = CPIOArchive.blockSize) throws(CPIOError) -> [UInt8] {
        var out: [UInt8] = []
        for e in entries + [CPIOEntry.trailer] {
            let name = Array(e.name.utf8) + [0]
            guard let nameSize = UInt32(exactly: name.count), let fileSize = UInt32(exactly: e.data.count) else {
                throw .entryTooLarge(name: e.name)
            }
            out += magic
            for v in [
                e.inode, e.mode, e.uid, e.gid, e.linkCount, e.modificationTime, fileSize, e.deviceMajor, e.deviceMinor,
                e.rdevMajor, e.rdevMinor, nameSize, e.check,
            ] {
                out += hex8(v)
            }
            out += name
            out += [UInt8](repeating: 0, count: align4(out.count) - out.count)
            out += e.data
            out += [UInt8](repeating: 0, count: align4(out.count) - out.count)
        }
        let block = max(1, blockSize)
        let padded = (out.count + block - 1) / block * block
        out += [UInt8](repeating: 0, count: padded - out.count)
        return out
    }

    /// The header field names, in order after the magic.
    static let fieldNames = [
        "c_ino", "c_mode", "c_uid", "c_gid", "c_nlink", "c_mtime", "c_filesize", "c_devmajor", "c_devminor",
        "c_rdevmajor", "c_rdevminor", "c_namesize", "c_check",
    ]

    /// 8 upper-case hex digits, as GNU cpio writes them.
    static func hex8(_ v: UInt32) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return (0..<8).map { digits[Int(v >> (28 - 4 * UInt32($0)) & 0xF)] }
    }

    /// Exactly 8 hex digits (either case), or `nil`.
    static func parseHex(_ text: ArraySlice<UInt8>) -> UInt32? {
        guard text.count == 8 else { return nil }
        var v: UInt32 = 0
        for c in text {
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Rounds up to a multiple of 4.
    static func align4(_ v: Int) -> Int { (v + 3) & ~3 }
}
