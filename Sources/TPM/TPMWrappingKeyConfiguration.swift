/// The Ultravisor's wrapping-key parameters: the properties of the node with
/// `compatible = "ibm,uv-tpm"` in the Ultravisor's boot FDT
/// (reference/ultravisor-facts.md §2.7).
public struct TPMWrappingKeyConfiguration: Sendable, Hashable {
    /// The node's `compatible`.
    public static let compatible = "ibm,uv-tpm"
    /// `wrapping-key-handle`.
    public static let handleProperty = "wrapping-key-handle"
    /// `wrapping-key-passwd`.
    public static let passwordProperty = "wrapping-key-passwd"
    /// `wrapping-key-publicname`.
    public static let publicNameProperty = "wrapping-key-publicname"
    /// `wrapping-key-policy-a`.
    public static let policyAProperty = "wrapping-key-policy-a"
    /// `wrapping-key-policy-b`.
    public static let policyBProperty = "wrapping-key-policy-b"

    /// The key's persistent handle (u32).
    public var handle: UInt32
    /// The raw `wrapping-key-passwd` property (a NUL-terminated string).
    public var password: [UInt8]
    /// The expected Name of the key; ReadPublic's Name is compared over this length.
    public var publicName: [UInt8]
    /// The first PolicyOR branch.
    public var policyA: [UInt8]
    /// The second PolicyOR branch.
    public var policyB: [UInt8]

    /// Makes a configuration.
    public init(handle: UInt32, password: [UInt8], publicName: [UInt8], policyA: [UInt8], policyB: [UInt8]) {
        self.handle = handle
        self.password = password
        self.publicName = publicName
        self.policyA = policyA
        self.policyB = policyB
    }

    /// Reads the node's properties by name.
    /// - Throws: `.invalidConfiguration` naming a missing property or a handle that is
    ///   not 4 bytes.
    public init(properties: [String: [UInt8]]) throws(TPMError) {
        func prop(_ name: String) throws(TPMError) -> [UInt8] {
            guard let v = properties[name] else { throw TPMError.invalidConfiguration("missing property \(name) in the \(Self.compatible) node") }
            return v
        }
        let h = try prop(Self.handleProperty)
        guard h.count == 4 else { throw TPMError.invalidConfiguration("\(Self.handleProperty) is \(h.count) bytes, expected 4") }
        self.init(
            handle: UInt32(h[0]) << 24 | UInt32(h[1]) << 16 | UInt32(h[2]) << 8 | UInt32(h[3]), password: try prop(Self.passwordProperty),
            publicName: try prop(Self.publicNameProperty), policyA: try prop(Self.policyAProperty), policyB: try prop(Self.policyBProperty))
    }

    /// The properties to put in the `ibm,uv-tpm` node, in this order: `compatible`,
    /// handle (one big-endian cell), password, public name, policy-a, policy-b.
    public var properties: [(name: String, value: [UInt8])] {
        var w = TPMWriter()
        w.u32(handle)
        return [
            ("compatible", Array(Self.compatible.utf8) + [0]), (Self.handleProperty, w.bytes), (Self.passwordProperty, password),
            (Self.publicNameProperty, publicName), (Self.policyAProperty, policyA), (Self.policyBProperty, policyB),
        ]
    }

    /// The auth value the TSS uses: the password up to its first NUL (the Ultravisor
    /// passes it as a C string).
    public var authValue: [UInt8] { Array(password.prefix { $0 != 0 }) }
}
