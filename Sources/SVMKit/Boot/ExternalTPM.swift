public import TPM

/// A TPM outside SVMKit that holds the wrapping key: the backend the hypervisor's
/// `H_TPM_COMM` forwards to, the Ultravisor's `ibm,uv-tpm` parameters for the key
/// (handle, password, Name, policy-a and policy-b; reference/ultravisor-facts.md §2.7),
/// and the key's public half, to which ``BootImageBuilder`` wraps `lockbox-1`.
///
/// Two values are equal when label, parameters and public key are equal and the
/// backends are the same object (class backends) or of the same type (value backends).
public struct ExternalTPM: Hashable, Sendable, CustomStringConvertible {
    /// Names the TPM in errors and messages, e.g. `swtpm:127.0.0.1:2321`.
    public var label: String
    /// Where the commands go (e.g. a `SwtpmBackend`).
    public var backend: any TPMBackend
    /// The Ultravisor's wrapping-key parameters.
    public var wrappingKey: TPMWrappingKeyConfiguration
    /// The key's public half as PEM (svm-tools: `tssreadpublic -ho 81800001 -opem`).
    /// `lockbox-1` of a blob SVMKit makes is wrapped to it; its bytes are the lockbox's
    /// fingerprint input, as with `svm-tool esm authorize`.
    public var publicKeyPEM: String

    /// An external TPM.
    public init(label: String, backend: any TPMBackend, wrappingKey: TPMWrappingKeyConfiguration, publicKeyPEM: String) {
        self.label = label
        self.backend = backend
        self.wrappingKey = wrappingKey
        self.publicKeyPEM = publicKeyPEM
    }

    /// An external TPM holding a provisioned key (e.g. `TPMProvisionedKey.load(directory:)`).
    public init(label: String, backend: any TPMBackend, key: TPMProvisionedKey) {
        self.init(label: label, backend: backend, wrappingKey: key.configuration, publicKeyPEM: key.publicKeyPEM)
    }

    /// The label.
    public var description: String { label }

    /// See the type's description.
    public static func == (a: ExternalTPM, b: ExternalTPM) -> Bool {
        guard a.label == b.label, a.wrappingKey == b.wrappingKey, a.publicKeyPEM == b.publicKeyPEM,
            type(of: a.backend) == type(of: b.backend)
        else { return false }
        guard type(of: a.backend) is AnyClass else { return true }
        return ObjectIdentifier(a.backend as AnyObject) == ObjectIdentifier(b.backend as AnyObject)
    }

    /// Hashes label, parameters and public key.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(label)
        hasher.combine(wrappingKey)
        hasher.combine(publicKeyPEM)
    }
}
