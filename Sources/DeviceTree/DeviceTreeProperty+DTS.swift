extension DeviceTreeProperty {
    /// The form a property value takes in device-tree source, chosen the way
    /// `dtc -I dtb -O dts` chooses it for a blob, which carries no type information
    /// (`guess_value_type()` in dtc's `treesource.c`, dtc 1.6.1).
    public enum DTSForm: String, Hashable, Sendable, CaseIterable {
        /// No value: printed as `name;` (a flag such as `interrupt-controller`).
        case empty
        /// One or more NUL-terminated strings: `"a"` or `"a\0b"`. Chosen when the
        /// last byte is NUL, every byte is printable ASCII, NUL, or one of
        /// `\a \b \t \n \v \f \r`, and NULs are no more than half the bytes.
        case string
        /// Big-endian 32-bit cells: `<0x01 0x201f>`. Chosen when the value is not a
        /// string and its length is a multiple of 4.
        case cells
        /// Bytes: `[52 54 00 12]`. Everything else.
        case bytes
    }

    /// How `dtc -I dtb -O dts` would print this value (see ``DTSForm``).
    public var dtsForm: DTSForm {
        guard let last = value.last else { return .empty }
        var notString = 0
        var nuls = 0
        for b in value {
            if !Self.isDTSStringByte(b) { notString += 1 }
            if b == 0 { nuls += 1 }
        }
        if last == 0, notString == 0, nuls <= value.count - nuls { return .string }
        return value.count % 4 == 0 ? .cells : .bytes
    }

    /// The value as dtc writes it after `name = `, without the `;`: `"svm=on"`,
    /// `"a\0b"`, `<0x00 0x201f>`, `[00 00]`; `nil` for an empty property.
    ///
    /// Cells print as `0x` and at least two lowercase hex digits (`%02x`), bytes as
    /// two hex digits, and strings escape `\\`, `"`, the control characters dtc
    /// accepts and the NULs between list entries, as dtc 1.6.1's `write_propval_*`.
    public var dtsValue: String? {
        switch dtsForm {
        case .empty:
            return nil
        case .string:
            var out = "\""
            for b in value.dropLast() {
                switch b {
                case 0x07: out += "\\a"
                case 0x08: out += "\\b"
                case 0x09: out += "\\t"
                case 0x0A: out += "\\n"
                case 0x0B: out += "\\v"
                case 0x0C: out += "\\f"
                case 0x0D: out += "\\r"
                case 0x5C: out += "\\\\"
                case 0x22: out += "\\\""
                case 0x00: out += "\\0"
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
            }
            return out + "\""
        case .cells:
            let cells = (0..<value.count / 4).map { BigEndianCells.u32(value, at: $0 * 4) }
            return "<" + cells.map(Self.dtsCell).joined(separator: " ") + ">"
        case .bytes:
            return "[" + value.map(Self.hexByte).joined(separator: " ") + "]"
        }
    }

    /// The whole source line without indentation: `name = value;` or `name;`.
    public var dtsLine: String {
        if let v = dtsValue { return "\(name) = \(v);" }
        return "\(name);"
    }

    /// dtc's `isstring()`: printable ASCII, NUL, or `\a`…`\r` (C locale `isprint`).
    static func isDTSStringByte(_ b: UInt8) -> Bool {
        (0x20...0x7E).contains(b) || b == 0 || (0x07...0x0D).contains(b)
    }

    /// `0x%02x`.
    static func dtsCell(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        return hex.count < 2 ? "0x0" + hex : "0x" + hex
    }

    /// `%02x`.
    static func hexByte(_ b: UInt8) -> String {
        b < 0x10 ? "0" + String(b, radix: 16) : String(b, radix: 16)
    }
}
