/// An unsigned 64-bit number in a replay trace: a JSON integer or a `"0x…"` string
/// (a decimal string is accepted too).
struct ReplayNumber: Decodable {
    let value: UInt64

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let number = try? c.decode(UInt64.self) {
            value = number
            return
        }
        guard let text = try? c.decode(String.self) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "expected a non-negative integer or a \"0x…\" string")
        }
        let lower = text.lowercased()
        let parsed = lower.hasPrefix("0x") ? UInt64(lower.dropFirst(2), radix: 16) : UInt64(lower, radix: 10)
        guard let parsed else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(text)\" is not a 64-bit unsigned number")
        }
        value = parsed
    }

    /// The value as an `Int`, or a decoding error naming `field`.
    func int(named field: String) throws -> Int {
        guard value <= UInt64(Int.max) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "\(field) \(value) does not fit in a signed 64-bit integer"))
        }
        return Int(value)
    }
}
