import Crypto
import Foundation
import _CryptoExtras

/// An RSA public key together with the exact bytes of the file it came from.
///
/// svm-tool fingerprints a recipient by SHA-256 over the **exact bytes of the
/// public-key file** (reference/ultravisor-facts.md §3.5), so two files holding the same
/// key with different line endings get different lockbox fingerprints. This type keeps
/// the bytes so the fingerprint is the one svm-tool would store.
public struct ESMPublicKey: Sendable, Hashable {
    /// The file's bytes, unchanged.
    public let fileBytes: [UInt8]
    /// The key as a DER SubjectPublicKeyInfo.
    public let subjectPublicKeyInfoDER: [UInt8]
    /// The modulus size in bits.
    public let keySizeInBits: Int

    /// Reads a public key from a PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`) or DER file.
    /// - Parameters:
    ///   - fileBytes: the file's bytes, kept as they are (the fingerprint hashes them).
    ///   - source: names the file in error messages.
    /// - Throws: `.invalidKey` for a private key ("is a private key", as svm-tool's
    ///   `create` says), a key that is not RSA, shorter than 2048 bits, or unreadable.
    public init(fileBytes: [UInt8], source: String = "public key") throws(ESMError) {
        let text = String(decoding: fileBytes, as: UTF8.self)
        if let type = PEMText.firstBlockType(text), type.contains("PRIVATE KEY") {
            throw ESMError(.invalidKey, "\(source): is a private key (\(type)); give the public key file")
        }
        let key: _RSA.Encryption.PublicKey
        do {
            if PEMText.firstBlockType(text) != nil {
                key = try _RSA.Encryption.PublicKey(pemRepresentation: text)
            } else {
                key = try _RSA.Encryption.PublicKey(derRepresentation: fileBytes)
            }
        } catch {
            throw ESMError(
                .invalidKey,
                "\(source): not an RSA public key of at least 2048 bits in PEM (PUBLIC KEY / RSA PUBLIC KEY) or DER form")
        }
        self.fileBytes = fileBytes
        self.subjectPublicKeyInfoDER = Array(key.derRepresentation)
        self.keySizeInBits = key.keySizeInBits
    }

    /// Wraps a key exported here (``ESMPrivateKey/publicKey``): `fileBytes` are the
    /// svm-tool-style PEM of `der`.
    init(exportedDER der: [UInt8], keySizeInBits: Int) {
        self.subjectPublicKeyInfoDER = der
        self.keySizeInBits = keySizeInBits
        self.fileBytes = Array((PEMText.encode(der: der, type: "PUBLIC KEY") + "\n").utf8)
    }

    /// The lockbox fingerprint: SHA-256 of ``fileBytes`` (svm-tool `create`/`authorize`/`revoke`).
    public var fingerprint: [UInt8] { ESMCrypto.sha256(fileBytes) }

    /// The modulus `n` and public exponent `e`, big-endian without leading zeros.
    public func primitives() throws(ESMError) -> (modulus: [UInt8], exponent: [UInt8]) {
        do {
            let p = try _RSA.Encryption.PublicKey(derRepresentation: subjectPublicKeyInfoDER).getKeyPrimitives()
            return (Array(p.modulus.drop { $0 == 0 }), Array(p.publicExponent.drop { $0 == 0 }))
        } catch {
            throw ESMError(.invalidKey, "cannot read the RSA modulus and exponent: \(error)")
        }
    }

    /// RSA-OAEP encryption with SHA-256, MGF1-SHA-256 and an empty label, as svm-tool's
    /// `PKCS1_OAEP.new(key, hashAlgo=SHA256)` (reference/ultravisor-facts.md §2.7).
    public func encrypt(_ plaintext: [UInt8]) throws(ESMError) -> [UInt8] {
        do {
            let key = try _RSA.Encryption.PublicKey(derRepresentation: subjectPublicKeyInfoDER)
            return Array(try key.encrypt(plaintext, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw ESMError(.cryptoFailure, "RSA-OAEP encryption of \(plaintext.count) bytes failed: \(error)")
        }
    }
}
