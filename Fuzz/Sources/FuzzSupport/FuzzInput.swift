/// A cursor over the bytes libFuzzer hands a target, for the parts of an input
/// that choose operations rather than being parsed (an "edit script").
///
/// Reading past the end never fails: it yields zeros and empty values, so every
/// byte string is a valid script and libFuzzer's mutations are never wasted on
/// format errors. Numbers are little-endian.
public struct FuzzInput: Sendable {
    /// The script bytes.
    public let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var position: Int = 0

    /// A script over `bytes`.
    public init(_ bytes: some Collection<UInt8>) { self.bytes = Array(bytes) }

    /// The bytes libFuzzer passed to `LLVMFuzzerTestOneInput`, copied.
    public static func copy(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position >= bytes.count }

    /// The bytes not read yet.
    public var remaining: ArraySlice<UInt8> { bytes[min(position, bytes.count)...] }

    /// One byte, or 0 past the end.
    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `T`'s width.
    public mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type = T.self) -> T {
        var v: T = 0
        for i in 0..<(T.bitWidth / 8) { v |= T(byte()) << (8 * i) }
        return v
    }

    /// A value in `range` (by modulo: biased, which does not matter here): one byte
    /// for spans up to 256 values, four bytes above. `range` must span fewer than
    /// `Int.max` values.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = range.upperBound - range.lowerBound
        let raw = span < 256 ? Int(byte()) : Int(integer(UInt32.self))
        return range.lowerBound + raw % (span + 1)
    }

    /// A boolean from one byte's low bit.
    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// A length byte (at most `maximum`), then that many bytes.
    public mutating func bytes(upTo maximum: Int) -> [UInt8] {
        let n = int(in: 0...max(0, maximum))
        return (0..<n).map { _ in byte() }
    }

    /// Bytes as for ``bytes(upTo:)``, decoded as UTF-8 (ill-formed sequences repaired).
    public mutating func string(upTo maximum: Int) -> String {
        String(decoding: bytes(upTo: maximum), as: UTF8.self)
    }

    /// One element of `choices`, or `nil` if it is empty.
    public mutating func pick<C: Collection>(_ choices: C) -> C.Element? where C.Index == Int {
        guard !choices.isEmpty else { return nil }
        return choices[choices.startIndex + int(in: 0...(choices.count - 1))]
    }
}
