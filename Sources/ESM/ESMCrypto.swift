import Crypto
import Foundation
import _CryptoExtras

/// The primitives svm-tool and the Ultravisor use, over swift-crypto
/// (reference/ultravisor-facts.md §3.2, §3.5, §2.6 step 6):
/// SHA-512 digests, SHA-256 fingerprints, AES-256-GCM with 16-byte IVs and tags and no
/// AAD, and RSA-OAEP with SHA-256, MGF1-SHA-256 and an empty label.
enum ESMCrypto {
    /// SHA-512 of `bytes` (the digest of every measured component).
    static func sha512(_ bytes: some DataProtocol) -> [UInt8] { Array(SHA512.hash(data: bytes)) }

    /// SHA-256 of `bytes` (lockbox fingerprints).
    static func sha256(_ bytes: some DataProtocol) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// `count` bytes from the system generator (new master keys and IVs need real entropy).
    static func randomBytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// AES-GCM encryption as pycryptodome's `AES.new(key, MODE_GCM)` does it: the IV
    /// (svm-tool: a random 16-byte nonce) and a 16-byte tag, no AAD, ciphertext as long
    /// as the plaintext.
    static func gcmSeal(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws(ESMError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        do {
            let box = try AES.GCM.seal(plaintext, using: SymmetricKey(data: key), nonce: AES.GCM.Nonce(data: iv))
            return (Array(box.ciphertext), Array(box.tag))
        } catch {
            throw ESMError(.cryptoFailure, "AES-GCM encryption failed (key \(key.count) bytes, IV \(iv.count) bytes): \(error)")
        }
    }

    /// AES-GCM decryption and tag check, as mbedtls `gcm_auth_decrypt` in the Ultravisor.
    /// - Throws: `.decryptionFailed` naming `what` when the tag does not match (wrong key,
    ///   or a changed ciphertext, IV or tag) or a length is unusable.
    static func gcmOpen(ciphertext: [UInt8], key: [UInt8], iv: [UInt8], tag: [UInt8], what: String) throws(ESMError) -> [UInt8] {
        guard [16, 24, 32].contains(key.count) else {
            throw ESMError(.decryptionFailed, "\(what): the master key is \(key.count) bytes, not an AES key size")
        }
        guard iv.count >= 12 else {
            throw ESMError(.decryptionFailed, "\(what): iv is \(iv.count) bytes; at least 12 are needed")
        }
        guard tag.count == 16 else {
            throw ESMError(.decryptionFailed, "\(what): mac is \(tag.count) bytes, expected 16")
        }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: SymmetricKey(data: key)))
        } catch {
            throw ESMError(
                .decryptionFailed,
                "\(what): AES-256-GCM authentication failed (wrong master key, or its ciphertext, iv or mac was changed)")
        }
    }
}
