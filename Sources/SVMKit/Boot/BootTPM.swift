/// Which TPM holds the wrapping key that opens the ESM blob's `lockbox-1`
/// (reference/ultravisor-facts.md §2.7): the hypervisor forwards the Ultravisor's
/// `H_TPM_COMM` commands to it.
public enum BootTPM: Hashable, Sendable {
    /// The embedded `SoftwareTPM` (the default): it holds
    /// ``BootConfiguration/tpmKeyPEM``, or a key SVMKit makes, at 0x81800001.
    case embedded
    /// A TPM outside the process, e.g. swtpm (`svmkit boot --tpm swtpm:HOST:PORT`): the
    /// private key stays in it; SVMKit knows only the public key and the `ibm,uv-tpm`
    /// parameters.
    case external(ExternalTPM)

    /// The external TPM, if this is one.
    public var external: ExternalTPM? {
        if case .external(let t) = self { return t }
        return nil
    }

    /// `embedded`, or the external TPM's label (e.g. `swtpm:127.0.0.1:2321`).
    public var label: String { external?.label ?? "embedded" }
}
