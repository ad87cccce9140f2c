import Foundation

/// PEM text as svm-tool's pycryptodome and OpenSSL write it: `-----BEGIN <type>-----`,
/// the DER in base64 lines of 64 characters, `-----END <type>-----`.
enum PEMText {
    /// The PEM text of `der`, without a final newline (pycryptodome's `export_key()`).
    static func encode(der: [UInt8], type: String) -> String {
        let b64 = Array(Data(der).base64EncodedString().utf8)
        var lines: [String] = ["-----BEGIN \(type)-----"]
        var i = 0
        while i < b64.count {
            lines.append(String(decoding: b64[i..<min(i + 64, b64.count)], as: UTF8.self))
            i += 64
        }
        lines.append("-----END \(type)-----")
        return lines.joined(separator: "\n")
    }

    /// The type of the first PEM block (`PUBLIC KEY`, `RSA PRIVATE KEY`…), or `nil`
    /// when the text has no `-----BEGIN` line.
    static func firstBlockType(_ text: String) -> String? {
        guard let begin = text.range(of: "-----BEGIN ") else { return nil }
        let rest = text[begin.upperBound...]
        guard let end = rest.range(of: "-----") else { return nil }
        return String(rest[..<end.lowerBound])
    }

    /// Whether the first block is passphrase-protected (legacy `Proc-Type: 4,ENCRYPTED`
    /// headers, as pycryptodome writes with a passphrase, or PKCS#8 `ENCRYPTED PRIVATE KEY`).
    static func isEncrypted(_ text: String) -> Bool {
        text.contains("Proc-Type: 4,ENCRYPTED") || firstBlockType(text) == "ENCRYPTED PRIVATE KEY"
    }
}
