/// The checksum a soak keeps for each 512-byte sector: 64 bits over the sector's
/// eight-byte words (a multiply-rotate mix; not cryptographic, only a detector of
/// changed data, which it misses with probability about 2⁻⁶⁴).
enum SectorChecksum {
    /// Bytes per sector.
    static let sectorSize = 512

    /// The checksum of the sector at `offset` in `bytes` (which must hold 512 bytes there).
    static func of(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        var i = offset
        let end = offset + sectorSize
        while i < end {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ (w &* 0xBF58_476D_1CE4_E5B9))
            h = ((h << 29) | (h >> 35)) &* 0x94D0_49BB_1331_11EB
            i += 8
        }
        return h ^ (h >> 31)
    }

    /// The checksums of every sector of `bytes` (a multiple of 512 bytes).
    static func sectors(of bytes: [UInt8]) -> [UInt64] {
        bytes.withUnsafeBytes { raw in (0..<(raw.count / sectorSize)).map { of(raw, at: $0 * sectorSize) } }
    }

    /// The checksum of a zero sector (what an unwritten disk sector holds).
    static let zeroSector: UInt64 = [UInt8](repeating: 0, count: sectorSize).withUnsafeBytes { of($0, at: 0) }
}
