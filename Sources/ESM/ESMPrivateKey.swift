import Crypto
import Foundation
import _CryptoExtras

/// An RSA private key, read from or written to a file the way svm-tool's
/// `esm generate` writes its `seckey` (PKCS#1 `RSA PRIVATE KEY` PEM plus a final newline,
/// without a passphrase).
///
/// The key is held as DER bytes (a `Sendable` value) and handed to swift-crypto when used.
public struct ESMPrivateKey: Sendable, Hashable {
    /// The PKCS#1 `RSAPrivateKey` DER.
    public let pkcs1DER: [UInt8]
    /// The modulus size in bits.
    public let keySizeInBits: Int

    /// Reads a private key from a PEM file (`RSA PRIVATE KEY` or `PRIVATE KEY`).
    /// - Parameters:
    ///   - pemFileBytes: the file's bytes.
    ///   - source: names the file in error messages.
    /// - Throws: `.invalidKey` for a public key, a passphrase-protected key (not
    ///   supported: decrypt it first, e.g. `openssl rsa -in key -out plain.pem`), a key
    ///   shorter than 2048 bits, or text that is not a PEM RSA key.
    public init(pemFileBytes: [UInt8], source: String = "private key") throws(ESMError) {
        let text = String(decoding: pemFileBytes, as: UTF8.self)
        guard let type = PEMText.firstBlockType(text) else {
            throw ESMError(.invalidKey, "\(source): not a PEM file (no -----BEGIN line)")
        }
        guard type.contains("PRIVATE KEY") else {
            throw ESMError(.invalidKey, "\(source): holds a \(type), not a private key")
        }
        guard !PEMText.isEncrypted(text) else {
            throw ESMError(
                .invalidKey,
                "\(source): passphrase-protected keys are not supported; decrypt it first (openssl rsa -in KEY -out PLAIN.pem)")
        }
        let key: _RSA.Encryption.PrivateKey
        do {
            key = try _RSA.Encryption.PrivateKey(pemRepresentation: text)
        } catch {
            throw ESMError(.invalidKey, "\(source): not an RSA private key of at least 2048 bits")
        }
        self.init(key)
    }

    init(_ key: _RSA.Encryption.PrivateKey) {
        self.pkcs1DER = Array(key.derRepresentation)
        self.keySizeInBits = key.keySizeInBits
    }

    /// Generates a new RSA key (svm-tool's `generate` makes RSA-2048 keys).
    /// - Throws: `.cryptoFailure` if `bitCount` is under 2048 or generation fails.
    public static func generate(bitCount: Int = 2048) throws(ESMError) -> ESMPrivateKey {
        do {
            return ESMPrivateKey(try _RSA.Encryption.PrivateKey(keySize: .init(bitCount: bitCount)))
        } catch {
            throw ESMError(.cryptoFailure, "RSA-\(bitCount) key generation failed: \(error)")
        }
    }

    /// The `seckey` file as svm-tool writes it without a passphrase: PKCS#1 PEM with
    /// 64-character lines and one final newline.
    public var pemFileBytes: [UInt8] {
        Array((PEMText.encode(der: pkcs1DER, type: "RSA PRIVATE KEY") + "\n").utf8)
    }

    /// The public half exported as svm-tool exports it: SubjectPublicKeyInfo PEM plus
    /// `"\n"`. These are the bytes of the `pubkey` file `esm generate` writes, and the
    /// bytes whose SHA-256 `extract_symkey` compares with each lockbox (the re-export and
    /// the always-appended newline of reference/ultravisor-facts.md §3.5).
    public var publicKey: ESMPublicKey {
        let key = swiftCryptoKey
        return ESMPublicKey(exportedDER: Array(key?.publicKey.derRepresentation ?? Data()), keySizeInBits: keySizeInBits)
    }

    /// The fingerprint svm-tool computes for this key when it looks for its lockbox.
    public var fingerprint: [UInt8] { publicKey.fingerprint }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) decryption of a lockbox's
    /// `encrypted-symkey`.
    /// - Throws: `.decryptionFailed` when the ciphertext was not made for this key.
    public func decrypt(_ ciphertext: [UInt8]) throws(ESMError) -> [UInt8] {
        guard let key = swiftCryptoKey else {
            throw ESMError(.invalidKey, "the private key DER cannot be read back")
        }
        do {
            return Array(try key.decrypt(ciphertext, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw ESMError(.decryptionFailed, "RSA-OAEP decryption of \(ciphertext.count) bytes failed: not encrypted to this key, or changed")
        }
    }

    /// The swift-crypto key (re-parsed from DER: swift-crypto's encryption keys are not `Sendable`).
    var swiftCryptoKey: _RSA.Encryption.PrivateKey? {
        try? _RSA.Encryption.PrivateKey(derRepresentation: pkcs1DER)
    }
}
