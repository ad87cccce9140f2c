import Crypto

/// Policy digests as the TPM computes them (TPM 2.0 Part 3 §23), with SHA-256.
///
/// The Ultravisor's session runs PolicyCommandCode(RSA_Decrypt), PolicyAuthValue, then
/// PolicyOR{policy-a, policy-b} (reference/ultravisor-facts.md §2.7); the key's
/// `authPolicy` is therefore PolicyOR over those two digests, and policy-a is the
/// digest of the first two steps.
public enum TPMPolicy {
    /// The digest a policy session starts from: 32 zero bytes.
    public static let initial = [UInt8](repeating: 0, count: 32)

    /// After `TPM2_PolicyCommandCode(code)`: H(digest || TPM_CC_PolicyCommandCode || code).
    public static func commandCode(_ digest: [UInt8], _ code: TPMCommandCode) -> [UInt8] {
        var w = TPMWriter()
        w.raw(digest)
        w.u32(TPMCommandCode.policyCommandCode.rawValue)
        w.u32(code.rawValue)
        return Array(SHA256.hash(data: w.bytes))
    }

    /// After `TPM2_PolicyAuthValue`: H(digest || TPM_CC_PolicyAuthValue).
    public static func authValue(_ digest: [UInt8]) -> [UInt8] {
        var w = TPMWriter()
        w.raw(digest)
        w.u32(TPMCommandCode.policyAuthValue.rawValue)
        return Array(SHA256.hash(data: w.bytes))
    }

    /// After `TPM2_PolicyOR(list)`: H(0…0 || TPM_CC_PolicyOR || list digests concatenated).
    public static func or(_ digests: [[UInt8]]) -> [UInt8] {
        var w = TPMWriter()
        w.raw(initial)
        w.u32(TPMCommandCode.policyOR.rawValue)
        for d in digests { w.raw(d) }
        return Array(SHA256.hash(data: w.bytes))
    }

    /// policy-a: PolicyCommandCode(RSA_Decrypt) then PolicyAuthValue, the branch the
    /// Ultravisor satisfies.
    public static var rsaDecryptWithAuthValue: [UInt8] { authValue(commandCode(initial, .rsaDecrypt)) }

    /// The default policy-b: PolicyCommandCode(ObjectChangeAuth) then PolicyAuthValue, a
    /// branch for changing the key's password. (The real policy-b is not in the open
    /// repositories; the Ultravisor only passes it through to PolicyOR.)
    public static var objectChangeAuthWithAuthValue: [UInt8] { authValue(commandCode(initial, .objectChangeAuth)) }
}
