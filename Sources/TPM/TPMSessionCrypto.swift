import Crypto
import Foundation
import _CryptoExtras

/// Session cryptography with SHA-256 (TPM 2.0 Part 1 §11.4.10, §19.6, §21): KDFa, the
/// command and response HMACs, and AES-128-CFB parameter encryption.
///
/// Sessions here are unbound and unsalted (tpmKey = bind = TPM_RH_NULL, as the
/// Ultravisor starts them), so `sessionKey` is empty and the HMAC and encryption key
/// (`sessionValue`) is the entity's auth value when PolicyAuthValue was run, else empty.
/// Auth values are used with trailing zero octets removed.
public enum TPMSessionCrypto {
    /// KDFa(SHA-256, key, label, contextU, contextV, bits): the counter-mode KDF of
    /// SP 800-108 with HMAC-SHA-256; `label` is NUL-terminated in the input.
    public static func kdfa(key: [UInt8], label: String, contextU: [UInt8], contextV: [UInt8], bits: Int) -> [UInt8] {
        let bytes = (bits + 7) / 8
        var out: [UInt8] = []
        var counter: UInt32 = 1
        while out.count < bytes {
            var w = TPMWriter()
            w.u32(counter)
            w.raw(Array(label.utf8) + [0])
            w.raw(contextU)
            w.raw(contextV)
            w.u32(UInt32(bits))
            out += hmac(key: key, w.bytes)
            counter += 1
        }
        return Array(out.prefix(bytes))
    }

    /// HMAC-SHA-256.
    public static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    /// An auth value without its trailing zero octets.
    public static func trimmed(_ auth: [UInt8]) -> [UInt8] {
        var a = auth
        while a.last == 0 { a.removeLast() }
        return a
    }

    /// cpHash = H(commandCode || Name of each handle || parameters).
    public static func cpHash(_ code: TPMCommandCode, names: [[UInt8]], parameters: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u32(code.rawValue)
        for n in names { w.raw(n) }
        w.raw(parameters)
        return Array(SHA256.hash(data: w.bytes))
    }

    /// rpHash = H(responseCode || commandCode || parameters).
    public static func rpHash(_ code: TPMCommandCode, responseCode: TPMResponseCode = .success, parameters: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.u32(responseCode.rawValue)
        w.u32(code.rawValue)
        w.raw(parameters)
        return Array(SHA256.hash(data: w.bytes))
    }

    /// The session HMAC: HMAC(sessionValue, pHash || nonceNewer || nonceOlder || attributes).
    /// For a command, newer = the caller's nonce and older = the TPM's; for a response,
    /// the other way round.
    public static func sessionHMAC(
        sessionValue: [UInt8], pHash: [UInt8], nonceNewer: [UInt8], nonceOlder: [UInt8], attributes: TPMSessionAttributes
    ) -> [UInt8] {
        hmac(key: sessionValue, pHash + nonceNewer + nonceOlder + [attributes.rawValue])
    }

    /// AES-128-CFB parameter encryption or decryption of `data` (the buffer of the first
    /// `TPM2B` parameter): key and IV are KDFa(sessionValue, "CFB", nonceNewer,
    /// nonceOlder, 128 + 128).
    public static func cfb(
        _ data: [UInt8], sessionValue: [UInt8], nonceNewer: [UInt8], nonceOlder: [UInt8], encrypt: Bool
    ) throws(TPMError) -> [UInt8] {
        guard !data.isEmpty else { return data }
        let material = kdfa(key: sessionValue, label: "CFB", contextU: nonceNewer, contextV: nonceOlder, bits: 256)
        do {
            let key = SymmetricKey(data: material.prefix(16))
            let iv = try AES._CFB.IV(ivBytes: material.suffix(16))
            return Array(encrypt ? try AES._CFB.encrypt(data, using: key, iv: iv) : try AES._CFB.decrypt(data, using: key, iv: iv))
        } catch {
            throw TPMError.invalidInput("AES-128-CFB parameter encryption failed: \(error)")
        }
    }
}
