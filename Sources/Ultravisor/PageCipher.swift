import Crypto
import Foundation

/// Page-out encryption: AES-128-GCM with a per-SVM random key, a 12-byte IV (4 random
/// bytes fixed per SVM, then an 8-byte big-endian counter: the NIST SP 800-38D
/// deterministic construction) and a 16-byte tag (`core/page_encrypt.c`,
/// reference/ultravisor-facts.md §6 row 13). The hypervisor gets only the ciphertext;
/// the IV and tag stay with the Ultravisor.
enum PageCipher {
    /// Key length: AES-128.
    static let keyBytes = 16
    /// Random part of the IV.
    static let ivPrefixBytes = 4
    /// Tag length.
    static let tagBytes = 16

    /// The IV for page-out number `counter`.
    static func iv(prefix: [UInt8], counter: UInt64) -> [UInt8] {
        prefix + (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * $0)) }
    }

    /// Encrypts a page; `nil` only if swift-crypto rejects the key or IV sizes.
    static func seal(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) -> (ciphertext: [UInt8], tag: [UInt8])? {
        do {
            let box = try AES.GCM.seal(
                plaintext, using: SymmetricKey(data: key), nonce: try AES.GCM.Nonce(data: iv))
            return ([UInt8](box.ciphertext), [UInt8](box.tag))
        } catch {
            return nil
        }
    }

    /// Decrypts and authenticates a page; `nil` if anything was changed ("tampering").
    static func open(ciphertext: [UInt8], tag: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        do {
            let box = try AES.GCM.SealedBox(nonce: try AES.GCM.Nonce(data: iv), ciphertext: ciphertext, tag: tag)
            return [UInt8](try AES.GCM.open(box, using: SymmetricKey(data: key)))
        } catch {
            return nil
        }
    }
}

/// What the Ultravisor keeps about a paged-out page.
struct SealedPageRecord: Hashable, Sendable {
    let iv: [UInt8]
    let tag: [UInt8]
}
