@_spi(Firmware) import PEFMachine

/// Escaping for the hand-written JSON and SVG/XML outputs.
enum JSONText {
    /// `text` as a JSON string literal, quotes included (the trace's own escaping).
    static func quote(_ text: String) -> String { TraceRecord.quote(text) }

    /// `text` escaped for XML character data and attribute values.
    static func xml(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
