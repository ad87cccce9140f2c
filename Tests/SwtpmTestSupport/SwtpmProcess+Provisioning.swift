import Foundation
import TPM

#if canImport(Glibc)
extension SwtpmProcess {
    /// Provisions the wrapping key in this swtpm through ``TPM/SwtpmBackend`` (as
    /// `Scripts/swtpm-provision` does with tpm2-tools, without needing them), writes
    /// `wrapping-key.json` and `tpmrsapubkey.pem` into ``stateDirectory`` (the
    /// `--tpm-dir` of `svmkit boot`), and returns the key.
    public func provisionKey(authValue: [UInt8] = Array("svmkit-test-swtpm".utf8)) throws -> TPMProvisionedKey {
        let backend = try SwtpmBackend(spec: spec)
        defer { backend.close() }
        let key = try TPMProvisioning.provisionTPMKey(on: backend, authValue: authValue)
        try key.write(to: stateDirectory.path)
        return key
    }
}
#endif
