import Foundation

/// The JSON every `--json` prints: pretty, key-sorted, slashes unescaped.
enum CLIJSON {
    /// `value` as JSON text with a final newline (`{}` if it cannot be encoded, which
    /// the report types here never cause).
    static func text(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }
}
