/// Big-endian encoding and decoding of device-tree cells. Device trees store every
/// integer big-endian; libfdt's `fdt32_t` is a plain `UInt32`, so nothing in the C
/// types catches a missed swap (swift-notes §1.5, pitfall 5): all conversions go here.
public enum BigEndianCells {
    /// Reads a big-endian `UInt32` at `offset`; the caller guarantees 4 bytes are there.
    @inlinable
    public static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    /// Reads a big-endian `UInt64` at `offset`; the caller guarantees 8 bytes are there.
    @inlinable
    public static func u64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        UInt64(u32(bytes, at: offset)) << 32 | UInt64(u32(bytes, at: offset + 4))
    }

    /// The 4 big-endian bytes of `value`.
    @inlinable
    public static func bytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// The 8 big-endian bytes of `value`.
    @inlinable
    public static func bytes(_ value: UInt64) -> [UInt8] {
        bytes(UInt32(value >> 32)) + bytes(UInt32(value & 0xFFFF_FFFF))
    }

    /// Cells laid end to end.
    @inlinable
    public static func bytes(cells: [UInt32]) -> [UInt8] { cells.flatMap { bytes($0) } }
}
