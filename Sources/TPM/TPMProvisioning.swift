import Crypto
import Foundation
import _CryptoExtras

/// Sets up the simulated TPM and the Ultravisor's matching wrapping-key configuration
/// from one key, so the two agree by construction.
public enum TPMProvisioning {
    /// Loads `keyPEM` into a ``SoftwareTPM`` at `handle` with auth value `authValue`,
    /// and returns the `ibm,uv-tpm` parameters that open it: the handle, the password
    /// (the auth value as a NUL-terminated string), the key's Name, policy-a
    /// (PolicyCommandCode(RSA_Decrypt) + PolicyAuthValue) and policy-b.
    /// - Throws: `.invalidKey` for an unusable PEM, `.invalidConfiguration` for an auth
    ///   value with a NUL (the Ultravisor passes it as a C string).
    public static func provision(
        keyPEM: String, authValue: [UInt8], handle: UInt32 = TPMHandle.wrappingKey,
        policyB: [UInt8] = TPMPolicy.objectChangeAuthWithAuthValue, seed: UInt64? = nil
    ) throws(TPMError) -> (tpm: SoftwareTPM, configuration: TPMWrappingKeyConfiguration) {
        guard !authValue.contains(0) else {
            throw TPMError.invalidConfiguration("the auth value contains a NUL byte; wrapping-key-passwd is a C string")
        }
        let tpm = try SoftwareTPM(keyPEM: keyPEM, authValue: authValue, handle: handle, policyB: policyB, seed: seed)
        let config = TPMWrappingKeyConfiguration(
            handle: handle, password: authValue + [0], publicName: tpm.name, policyA: tpm.policyBranches[0], policyB: tpm.policyBranches[1])
        return (tpm, config)
    }

    /// A new RSA private key as PKCS#1 PEM (for a TPM key when none is given).
    public static func generateKeyPEM(bitCount: Int = 2048) throws(TPMError) -> String {
        do {
            let key = try _RSA.Encryption.PrivateKey(keySize: .init(bitCount: bitCount))
            return key.pemRepresentation
        } catch {
            throw TPMError.invalidKey("RSA-\(bitCount) key generation failed: \(error)")
        }
    }
}
