/// Builds a TPM 2.0 byte stream: every integer big-endian, `TPM2B_*` as a 16-bit size
/// then the bytes (TPM 2.0 Part 1 §18, Part 2 §10).
public struct TPMWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer.
    public init() {}

    /// Appends one octet.
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    /// Appends a big-endian `UINT16`.
    public mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    /// Appends a big-endian `UINT32`.
    public mutating func u32(_ v: UInt32) {
        bytes += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }
    /// Appends raw bytes.
    public mutating func raw(_ v: [UInt8]) { bytes += v }
    /// Appends a `TPM2B`: the 16-bit size, then the bytes (the caller keeps them under 64 KiB).
    public mutating func tpm2b(_ v: [UInt8]) {
        u16(UInt16(truncatingIfNeeded: v.count))
        bytes += v
    }
}

/// Reads a TPM 2.0 byte stream. Every read checks the bounds and throws
/// ``TPMUnmarshalError`` naming the field instead of reading past the end.
public struct TPMReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// The offset of the next read.
    public private(set) var offset: Int

    /// Reads `bytes` from `offset`.
    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// The bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    /// Reads `count` raw bytes.
    public mutating func raw(_ count: Int, _ field: String) throws(TPMUnmarshalError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw TPMUnmarshalError(field: field, offset: offset, needed: count, available: remaining) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
    /// Reads one octet.
    public mutating func u8(_ field: String) throws(TPMUnmarshalError) -> UInt8 { try raw(1, field)[0] }
    /// Reads a big-endian `UINT16`.
    public mutating func u16(_ field: String) throws(TPMUnmarshalError) -> UInt16 {
        let b = try raw(2, field)
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }
    /// Reads a big-endian `UINT32`.
    public mutating func u32(_ field: String) throws(TPMUnmarshalError) -> UInt32 {
        let b = try raw(4, field)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }
    /// Reads a `TPM2B`: a 16-bit size, then that many bytes.
    public mutating func tpm2b(_ field: String) throws(TPMUnmarshalError) -> [UInt8] {
        let n = try u16(field + " size")
        return try raw(Int(n), field)
    }
}

/// A TPM byte stream ended before a field.
public struct TPMUnmarshalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field being read.
    public let field: String
    /// Where it starts.
    public let offset: Int
    /// How many bytes it needs.
    public let needed: Int
    /// How many were left.
    public let available: Int

    /// Makes an error.
    public init(field: String, offset: Int, needed: Int, available: Int) {
        self.field = field
        self.offset = offset
        self.needed = needed
        self.available = available
    }

    /// `<field> at offset N needs K bytes, M left`.
    public var description: String { "\(field) at offset \(offset) needs \(needed) bytes, \(available) left" }
}
