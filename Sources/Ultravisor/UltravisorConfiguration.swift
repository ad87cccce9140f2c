/// How the simulated Ultravisor is built: the choices its firmware makes at build
/// time and the parameters it reads from its own boot device tree.
public struct UltravisorConfiguration: Hashable, Sendable {
    /// What `UV_ESM` does when an integrity check of reference/ultravisor-facts.md §2.6
    /// fails.
    public enum ESMCheckPolicy: String, Hashable, Sendable, CaseIterable {
        /// Abort `UV_ESM` (a production build, without `ESM_BLOB_CHK_WARN_ONLY`).
        case enforce
        /// Page everything in and go secure anyway, as the firmware's HEAD build does
        /// with `ESM_BLOB_CHK_WARN_ONLY` defined (§0).
        case warn
    }

    /// The TPM wrapping key the Ultravisor unwraps `lockbox-1` with: the properties of
    /// its boot FDT node `compatible = "ibm,uv-tpm"` (§2.7).
    public struct WrappingKey: Hashable, Sendable {
        /// `wrapping-key-handle`: the persistent handle (svm-tools documents 0x81800001).
        public var handle: UInt32
        /// `wrapping-key-passwd`: the key's auth value.
        public var password: [UInt8]
        /// `wrapping-key-publicname`: compared with `TPM2_ReadPublic`'s Name over its length.
        public var publicName: [UInt8]
        /// `wrapping-key-policy-a`.
        public var policyA: [UInt8]
        /// `wrapping-key-policy-b`.
        public var policyB: [UInt8]

        /// Makes the parameters.
        public init(
            handle: UInt32 = 0x8180_0001, password: [UInt8] = [], publicName: [UInt8] = [], policyA: [UInt8] = [],
            policyB: [UInt8] = []
        ) {
            self.handle = handle
            self.password = password
            self.publicName = publicName
            self.policyA = policyA
            self.policyB = policyB
        }
    }

    /// The ESM check policy; `enforce` by default (the secure-boot issue's default).
    public var esmCheckPolicy: ESMCheckPolicy
    /// The TPM wrapping key, if the machine has a TPM.
    public var wrappingKey: WrappingKey?

    /// A configuration.
    public init(esmCheckPolicy: ESMCheckPolicy = .enforce, wrappingKey: WrappingKey? = nil) {
        self.esmCheckPolicy = esmCheckPolicy
        self.wrappingKey = wrappingKey
    }
}
