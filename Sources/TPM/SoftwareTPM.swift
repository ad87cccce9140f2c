import Crypto
import Foundation
import Locking
import _CryptoExtras

/// An embedded TPM 2.0 holding one RSA decryption key at a persistent handle (by
/// default 0x81800001, the wrapping key the Ultravisor uses), answering the commands of
/// the Ultravisor's lockbox unwrap in the TPM wire format with real response codes
/// (reference/ultravisor-facts.md §2.7).
///
/// Implemented: ReadPublic, StartAuthSession (unbound, unsalted; HMAC, policy or trial;
/// no symmetric or AES-128-CFB; SHA-256), PolicyCommandCode, PolicyAuthValue, PolicyOR,
/// PolicyGetDigest, RSA_Decrypt (OAEP-SHA-256 key scheme; authorization by a policy
/// session only, since `userWithAuth` is clear; HMAC checked with the auth value after
/// PolicyAuthValue; `decrypt`/`encrypt` parameter encryption with AES-128-CFB),
/// FlushContext, GetRandom. At most 3 sessions are loaded. Commands are limited to 4096
/// bytes, as the Ultravisor's TSS and bounce page are.
///
/// Response codes were checked against libtpms (swtpm 0.7.1) for the same commands: the
/// codes, and which handle, parameter or session they name, agree, except where noted.
///
/// Not implemented (answered as a real TPM would refuse them, with the code named):
/// other commands (`TPM_RC_COMMAND_CODE`); salted or bound sessions
/// (`TPM_RC_HANDLE` for tpmKey/bind ≠ TPM_RH_NULL); XOR or AES-256 session encryption
/// and SHA-1 sessions (`TPM_RC_SYMMETRIC`, `TPM_RC_HASH`; libtpms accepts them); audit
/// sessions and sessions on commands without authorization (`TPM_RC_AUTH_CONTEXT`);
/// RSA_Decrypt labels (swift-crypto's OAEP has no label, so a labelled cipher text fails
/// as a decryption error, `TPM_RC_VALUE`); dictionary-attack lockout (the key is `noDA`,
/// so a wrong authorization is `TPM_RC_BAD_AUTH`). A cipher text that does not decrypt
/// gives the reference implementation's bare `TPM_RC_VALUE` (libtpms answers
/// `TPM_RC_FAILURE`).
///
/// Thread-safe: each command runs under one lock, as a TPM executes one command at a time.
public final class SoftwareTPM: TPMBackend, Sendable {
    /// The largest command accepted (`MAX_COMMAND_SIZE` of the Ultravisor's TSS).
    public static let maximumCommandSize = 4096
    /// How many sessions can be loaded at once (`MAX_LOADED_SESSIONS` of the reference TPM).
    public static let maximumSessions = 3
    /// Session handle indexes run from 0 to 63 (`MAX_ACTIVE_SESSIONS`).
    static let sessionSlots: UInt32 = 64
    /// Transient object slots (`MAX_LOADED_OBJECTS`).
    static let objectSlots: UInt32 = 3

    /// The key's persistent handle.
    public let keyHandle: UInt32
    /// The key's public area.
    public let publicArea: TPMRSAPublicArea
    /// The key's auth value (trailing zeros removed).
    let authValue: [UInt8]
    /// PKCS#1 DER of the private key.
    let privateKeyDER: [UInt8]
    /// policy-a and policy-b, whose PolicyOR is the key's `authPolicy`.
    public let policyBranches: [[UInt8]]

    let state: Lock<State>

    struct Session: Sendable {
        var type: TPMSessionType
        var nonceTPM: [UInt8]
        var parameterEncryption: Bool
        var policyDigest: [UInt8] = TPMPolicy.initial
        var commandCode: TPMCommandCode?
        var isAuthValueNeeded = false
    }

    struct State: Sendable {
        var sessions: [UInt32: Session] = [:]
        var random: TPMRandomSource
        var commandsExecuted = 0
        var closes = 0
    }

    /// Loads an RSA private key (PEM: `RSA PRIVATE KEY` or `PRIVATE KEY`, 2048 to 4096
    /// bits) as the persistent key at `handle`, with an OAEP/SHA-256 decrypt scheme, the
    /// auth value `authValue`, and `authPolicy` = PolicyOR(policy-a, `policyB`).
    /// - Parameters:
    ///   - keyPEM: the private key, PEM.
    ///   - authValue: the key's auth value.
    ///   - handle: the persistent handle the key is loaded at.
    ///   - policyB: the second PolicyOR branch of the key's `authPolicy`.
    ///   - seed: makes nonces and GetRandom deterministic.
    /// - Throws: `.invalidKey` for a PEM that is not such a key.
    public init(
        keyPEM: String, authValue: [UInt8], handle: UInt32 = TPMHandle.wrappingKey,
        policyB: [UInt8] = TPMPolicy.objectChangeAuthWithAuthValue, seed: UInt64? = nil
    ) throws(TPMError) {
        let key: _RSA.Encryption.PrivateKey
        let primitives: _RSA.Encryption.PublicKey.Primitives
        do {
            key = try _RSA.Encryption.PrivateKey(pemRepresentation: keyPEM)
            primitives = try key.publicKey.getKeyPrimitives()
        } catch {
            throw TPMError.invalidKey("not an unencrypted PEM RSA private key of 2048 to 4096 bits")
        }
        guard (2048...4096).contains(key.keySizeInBits) else {
            throw TPMError.invalidKey("\(key.keySizeInBits)-bit key; the TPM holds 2048 to 4096 bits")
        }
        let e = Array(primitives.publicExponent.drop { $0 == 0 })
        guard e.count <= 4 else { throw TPMError.invalidKey("public exponent longer than 32 bits") }
        let exponent = e.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let policyA = TPMPolicy.rsaDecryptWithAuthValue
        self.keyHandle = handle
        self.policyBranches = [policyA, policyB]
        self.publicArea = TPMRSAPublicArea(
            authPolicy: TPMPolicy.or([policyA, policyB]), keyBits: UInt16(key.keySizeInBits), exponent: exponent,
            modulus: Array(primitives.modulus.drop { $0 == 0 }))
        self.authValue = TPMSessionCrypto.trimmed(authValue)
        self.privateKeyDER = Array(key.derRepresentation)
        self.state = Lock(State(random: seed.map { .seeded($0) } ?? .system))
    }

    /// The key's TPM Name (what `wrapping-key-publicname` must hold).
    public var name: [UInt8] { publicArea.name }

    /// How many sessions are loaded.
    public var loadedSessionCount: Int { state.withLock { $0.sessions.count } }

    /// How many commands were executed (any response, errors included).
    public var commandsExecuted: Int { state.withLock { $0.commandsExecuted } }

    /// How many times the client closed its connection (`H_TPM_COMM` operation 2).
    public var closeCount: Int { state.withLock { $0.closes } }

    /// Executes one command. TPM errors come back as response codes in the response;
    /// this never throws.
    public func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8] {
        state.withLock { s in
            s.commandsExecuted += 1
            return process(command, &s)
        }
    }

    /// Records the close; the TPM's sessions stay loaded, as a real TPM's do when a
    /// client disconnects.
    public func close() {
        state.withLock { $0.closes += 1 }
    }
}

extension SoftwareTPM {
    /// Encrypts `plaintext` to the TPM's key with RSA-OAEP (SHA-256, MGF1-SHA-256, empty
    /// label), as svm-tool wraps the master key for the TPM recipient.
    public func encryptToKey(_ plaintext: [UInt8]) throws(TPMError) -> [UInt8] {
        do {
            let key = try _RSA.Encryption.PrivateKey(derRepresentation: privateKeyDER)
            return Array(try key.publicKey.encrypt(plaintext, padding: .PKCS1_OAEP_SHA256))
        } catch {
            throw TPMError.invalidInput("RSA-OAEP encryption of \(plaintext.count) bytes to the TPM key failed: \(error)")
        }
    }

    /// The key's public half as SubjectPublicKeyInfo PEM plus a final newline, the way
    /// svm-tool writes public-key files (so its fingerprint matches an `esm authorize`
    /// of the same file).
    public var publicKeyPEM: String {
        let der = (try? _RSA.Encryption.PrivateKey(derRepresentation: privateKeyDER).publicKey.derRepresentation) ?? Data()
        let b64 = Array(der.base64EncodedString().utf8)
        var lines = ["-----BEGIN PUBLIC KEY-----"]
        var i = 0
        while i < b64.count {
            lines.append(String(decoding: b64[i..<min(i + 64, b64.count)], as: UTF8.self))
            i += 64
        }
        lines.append("-----END PUBLIC KEY-----")
        return lines.joined(separator: "\n") + "\n"
    }
}
