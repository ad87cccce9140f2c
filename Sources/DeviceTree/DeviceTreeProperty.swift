/// A named property value, as stored in a device tree (raw bytes).
public struct DeviceTreeProperty: Hashable, Sendable {
    /// The property name, e.g. `reg`.
    public var name: String
    /// The raw value.
    public var value: [UInt8]

    /// A property with a raw value.
    public init(_ name: String, _ value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// A NUL-terminated string property.
    public static func string(_ name: String, _ value: String) -> Self { Self(name, Array(value.utf8) + [0]) }
    /// A string list: each string NUL-terminated, laid end to end.
    public static func strings(_ name: String, _ values: [String]) -> Self {
        Self(name, values.flatMap { Array($0.utf8) + [0] })
    }
    /// One big-endian 32-bit cell.
    public static func u32(_ name: String, _ value: UInt32) -> Self { Self(name, BigEndianCells.bytes(value)) }
    /// One big-endian 64-bit value (two cells).
    public static func u64(_ name: String, _ value: UInt64) -> Self { Self(name, BigEndianCells.bytes(value)) }
    /// Big-endian 32-bit cells.
    public static func cells(_ name: String, _ values: [UInt32]) -> Self { Self(name, BigEndianCells.bytes(cells: values)) }
    /// A property with no value (a flag such as `interrupt-controller`).
    public static func empty(_ name: String) -> Self { Self(name, []) }
}
