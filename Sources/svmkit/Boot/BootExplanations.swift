import SVMKit

/// What a failed boot's TPM and firmware codes mean here, in words: SVMKit's extra
/// knowledge goes into the report, the guest behaves as Linux does.
enum BootExplanations {
    /// One explanation per known code found in the report's ESM failure and checks.
    static func explain(_ r: BootReport) -> [String] {
        let texts = [r.esmFailure ?? ""] + r.esmChecks.filter { !$0.passed }.map(\.detail)
        var out: [String] = []
        if texts.contains(where: { $0.contains("TPM_RC_VALUE") }) {
            out.append(
                "TPM_RC_VALUE (0x84) from TPM2_RSA_Decrypt: the TPM's key at 0x81800001 cannot decrypt lockbox-1, "
                    + "so lockbox-1 was wrapped to another key (the blob was made for a different TPM, or --tpm-key is not "
                    + "that TPM's key); compare lockbox-1's fingerprint (svmkit esm inspect) with the TPM key's")
        }
        return out
    }
}
