import DeviceTree
import ESM
import Testing

@Suite("ESM blob validation (svm-tool's valid_esm) and malformed input")
struct ESMValidationTests {
    static func validBlob() throws -> ESMBlob {
        try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, comment: "c")
    }

    static func expectInvalid(_ tree: DeviceTree, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) { try ESMBlob(bytes: tree.bytes) } throws: {
            guard let e = $0 as? ESMError else { return false }
            return e.kind == .invalidBlob && e.message == message
        }
    }

    @Test("Each validator rule gives a precise message naming the node")
    func rules() throws {
        let good = try Self.validBlob().tree
        var t = good
        try t.setString("model", "x", at: "/")
        Self.expectInvalid(t, "/: unexpected property: model")
        t = good
        try t.setString("compatible", "ibm,esx", at: "/")
        Self.expectInvalid(t, "/: compatible is invalid: ibm,esx")
        t = good
        try t.deleteProperty("compatible", at: "/")
        Self.expectInvalid(t, "/: missing property: compatible")
        t = good
        try t.addNode("files", under: "/")
        Self.expectInvalid(t, "/: unexpected node: files")
        t = good
        try t.deleteNode("/digest")
        Self.expectInvalid(t, "/: missing node: digest")
        t = good
        try t.deleteNode("/lockboxes/origin-lockbox")
        Self.expectInvalid(t, "/lockboxes: missing node: origin-lockbox")
        t = good
        try t.addNode("lockbox-0", under: "/lockboxes")
        Self.expectInvalid(t, "/lockboxes: lockbox name is invalid: lockbox-0")
        t = good
        try t.deleteProperty("encrypted-symkey", at: "/lockboxes/origin-lockbox")
        Self.expectInvalid(t, "/lockboxes/origin-lockbox: missing property: encrypted-symkey")
        t = good
        try t.setString("algorithm", "SHA1", at: "/lockboxes/origin-lockbox/pubkey-fingerprint")
        Self.expectInvalid(t, "/lockboxes/origin-lockbox/pubkey-fingerprint: unsupported hash algorithm: SHA1")
        t = good
        try t.deleteNode("/lockboxes/origin-lockbox/pubkey-fingerprint")
        Self.expectInvalid(t, "/lockboxes/origin-lockbox: missing node: pubkey-fingerprint")
        t = good
        try t.addNode("9bad", under: "/file")
        Self.expectInvalid(t, "/file: file name is invalid: 9bad")
        t = good
        try t.addNode("ok", under: "/file")
        Self.expectInvalid(t, "/file/ok: missing property: algorithm")
    }

    @Test("Truncated, wrong-magic and corrupt blobs are typed errors, never crashes")
    func malformed() throws {
        let bytes = try Self.validBlob().bytes
        let cases: [[UInt8]] = [
            [], Array(bytes.prefix(39)), Array(bytes.prefix(bytes.count - 1)), [0xD0, 0x0D, 0xFE, 0xEE] + bytes.dropFirst(4),
            [UInt8](repeating: 0xFF, count: 200), { var b = bytes; b[60] ^= 0xFF; return b }(),
        ]
        for c in cases {
            #expect { try ESMBlob(bytes: c) } throws: { ($0 as? ESMError)?.kind == .malformedDeviceTree || ($0 as? ESMError)?.kind == .invalidBlob }
        }
        // Random corruption anywhere: always a typed error or a valid blob.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var b = bytes
            b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            do { _ = try ESMBlob(bytes: b) } catch { #expect(error.kind != .cryptoFailure) }
        }
    }

    @Test("An AES-GCM known answer with a 16-byte IV (checked against Python's cryptography)")
    func gcmKnownAnswer() throws {
        let key = try ESMMasterKey(bytes: Array(0..<32))
        let item = try ESMSealedItem.seal(Array("hello digests fdt".utf8), masterKey: key, iv: Array(100..<116))
        #expect(ESMHex.encode(item.ciphertext + item.mac) == "b0d62f3d8b3443b1d59cdefd34f78a012e95d8d9b6532e37a2344a5ab904615125")
        #expect(try item.open(masterKey: key, what: "x") == Array("hello digests fdt".utf8))
    }
}
