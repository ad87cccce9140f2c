/// Sizes and addresses on the command line: `512M`, `4G`, `1T`, `65536`, `0x400000`,
/// `64KiB`. Suffixes are binary (K = 1024) and case-insensitive; `B`, `iB` after
/// the letter are accepted. Used by `svmkit fdt pseries`.
enum ByteCount {
    /// Why a size did not parse; the message names the option and the text given.
    struct ParseError: Error, CustomStringConvertible {
        /// e.g. `--memory 4X: unknown suffix "X" (use K, M, G or T)`.
        let description: String
    }

    /// The multipliers by suffix letter.
    static let units: [Character: UInt64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50]

    /// Parses `text` given for `option` (used in the message).
    static func parse(_ text: String, option: String) throws(ParseError) -> UInt64 {
        func fail(_ why: String) -> ParseError { ParseError(description: "\(option) \(text.isEmpty ? "\"\"" : text): \(why)") }
        let s = text.trimmingWhitespace()
        guard !s.isEmpty else { throw fail("expected a size such as 512M, 4G or 0x400000") }

        var digits = Substring(s)
        var radix = 10
        if digits.lowercased().hasPrefix("0x") {
            digits = digits.dropFirst(2)
            radix = 16
        }
        let number = digits.prefix { $0.isHexDigit && (radix == 16 || $0.isNumber) }
        var suffix = digits.dropFirst(number.count).lowercased()
        guard !number.isEmpty else { throw fail("expected a number, optionally followed by K, M, G or T (e.g. 512M, 4G)") }
        guard let value = UInt64(number, radix: radix) else { throw fail("the number is larger than 2^64 - 1") }

        if suffix.hasSuffix("ib") { suffix.removeLast(2) } else if suffix.hasSuffix("b") { suffix.removeLast() }
        if suffix.isEmpty { return value }
        guard suffix.count == 1, let letter = suffix.first, let unit = units[letter] else {
            if suffix.first == "." { throw fail("fractions are not accepted; use a smaller unit (e.g. 1536M, not 1.5G)") }
            throw fail("unknown suffix \"\(digits.dropFirst(number.count))\" (use K, M, G or T, e.g. 512M, 4G)")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: unit)
        guard !overflow else { throw fail("is larger than 2^64 - 1 bytes") }
        return product
    }

    /// `4 GiB`, `512 MiB`, `70000 bytes`: a size as a person reads it.
    static func describe(_ bytes: UInt64) -> String {
        for (name, unit) in [("TiB", UInt64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= unit && bytes % unit == 0 {
            return "\(bytes / unit) \(name)"
        }
        return "\(bytes) bytes"
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
