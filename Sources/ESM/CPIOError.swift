/// A malformed newc ("070701") cpio archive. Every case gives the byte offset of the
/// entry header concerned.
public enum CPIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer than 110 bytes remain for a header.
    case truncatedHeader(offset: Int, available: Int)
    /// The header does not start with `070701`.
    case badMagic(offset: Int, found: String)
    /// A header field is not 8 hexadecimal digits.
    case badField(offset: Int, field: String, text: String)
    /// `namesize` is 0, or the name runs past the end of the archive.
    case nameOutOfBounds(offset: Int, nameSize: Int, available: Int)
    /// The name is not NUL-terminated where `namesize` says it ends.
    case nameNotTerminated(offset: Int)
    /// `filesize` runs past the end of the archive.
    case dataOutOfBounds(offset: Int, name: String, fileSize: Int, available: Int)
    /// The archive ends without a `TRAILER!!!` entry.
    case missingTrailer(offset: Int)
    /// An entry to write has a name or data too large for the 32-bit header fields.
    case entryTooLarge(name: String)

    /// A sentence naming the offset and what was wrong.
    public var description: String {
        switch self {
        case .truncatedHeader(let o, let a): "cpio: truncated header at offset \(o): \(a) bytes left, a newc header is 110"
        case .badMagic(let o, let f): "cpio: bad magic at offset \(o): \(f.debugDescription), expected \"070701\""
        case .badField(let o, let field, let t): "cpio: header at offset \(o): \(field) \(t.debugDescription) is not 8 hex digits"
        case .nameOutOfBounds(let o, let n, let a):
            "cpio: header at offset \(o): namesize \(n) runs past the end (\(a) bytes left after the header) or is 0"
        case .nameNotTerminated(let o): "cpio: header at offset \(o): the name is not NUL-terminated"
        case .dataOutOfBounds(let o, let name, let s, let a):
            "cpio: entry \(name.debugDescription) at offset \(o): filesize \(s) runs past the end (\(a) bytes left)"
        case .missingTrailer(let o): "cpio: no TRAILER!!! entry before the end (offset \(o))"
        case .entryTooLarge(let name): "cpio: entry \(name.debugDescription) is too large for a newc header"
        }
    }
}
