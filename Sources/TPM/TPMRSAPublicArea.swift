import Crypto

/// The public area (`TPMT_PUBLIC`, TPM 2.0 Part 2 §12.2.4) of an RSA decryption key, and
/// its TPM Name.
///
/// The wrapping key's template is not in the open-source repositories
/// (reference/ultravisor-facts.md §2.7); this is the template SVMKit uses: nameAlg
/// SHA-256; `fixedTPM | fixedParent | adminWithPolicy | noDA | decrypt`
/// (`userWithAuth` clear, so only a policy session can use it); `authPolicy` =
/// PolicyOR(policy-a, policy-b); no symmetric; scheme OAEP with SHA-256 (what svm-tool's
/// lockboxes need); 2048 bits.
public struct TPMRSAPublicArea: Sendable, Hashable {
    /// `nameAlg`.
    public var nameAlgorithm: TPMAlgorithm = .sha256
    /// `objectAttributes`.
    public var attributes: TPMObjectAttributes
    /// `authPolicy`.
    public var authPolicy: [UInt8]
    /// `parameters.rsaDetail.scheme` (with its hash for OAEP).
    public var scheme: TPMAlgorithm
    /// The OAEP hash (`TPMS_SCHEME_OAEP.hashAlg`).
    public var schemeHash: TPMAlgorithm
    /// `keyBits`.
    public var keyBits: UInt16
    /// `exponent` as stored: 0 stands for 65537.
    public var exponent: UInt32
    /// `unique.rsa`: the modulus.
    public var modulus: [UInt8]

    /// The attributes SVMKit gives the wrapping key.
    public static let wrappingKeyAttributes: TPMObjectAttributes = [.fixedTPM, .fixedParent, .adminWithPolicy, .noDA, .decrypt]

    /// Makes a public area.
    public init(
        attributes: TPMObjectAttributes = TPMRSAPublicArea.wrappingKeyAttributes, authPolicy: [UInt8], scheme: TPMAlgorithm = .oaep,
        schemeHash: TPMAlgorithm = .sha256, keyBits: UInt16, exponent: UInt32, modulus: [UInt8]
    ) {
        self.attributes = attributes
        self.authPolicy = authPolicy
        self.scheme = scheme
        self.schemeHash = schemeHash
        self.keyBits = keyBits
        self.exponent = exponent == 65537 ? 0 : exponent
        self.modulus = modulus
    }

    /// The marshalled `TPMT_PUBLIC`.
    public var marshalled: [UInt8] {
        var w = TPMWriter()
        w.u16(TPMAlgorithm.rsa.rawValue)
        w.u16(nameAlgorithm.rawValue)
        w.u32(attributes.rawValue)
        w.tpm2b(authPolicy)
        w.u16(TPMAlgorithm.null.rawValue)  // symmetric: TPM_ALG_NULL
        w.u16(scheme.rawValue)
        if scheme == .oaep { w.u16(schemeHash.rawValue) }
        w.u16(keyBits)
        w.u32(exponent)
        w.tpm2b(modulus)
        return w.bytes
    }

    /// The TPM Name: `nameAlg` (2 bytes) followed by SHA-256 of ``marshalled``.
    public var name: [UInt8] {
        var w = TPMWriter()
        w.u16(nameAlgorithm.rawValue)
        w.raw(Array(SHA256.hash(data: marshalled)))
        return w.bytes
    }

    /// The qualified Name, computed as if the key's parent were the owner hierarchy:
    /// `nameAlg || SHA-256(TPM_RH_OWNER || Name)`.
    public var qualifiedName: [UInt8] {
        var h = TPMWriter()
        h.u32(TPMHandle.owner)
        h.raw(name)
        var w = TPMWriter()
        w.u16(nameAlgorithm.rawValue)
        w.raw(Array(SHA256.hash(data: h.bytes)))
        return w.bytes
    }

    /// Reads a `TPMT_PUBLIC` of an RSA key.
    public init(unmarshalling r: inout TPMReader) throws(TPMUnmarshalError) {
        let type = try r.u16("TPMT_PUBLIC.type")
        guard type == TPMAlgorithm.rsa.rawValue else {
            throw TPMUnmarshalError(field: "TPMT_PUBLIC.type 0x\(String(type, radix: 16)) (not RSA)", offset: r.offset - 2, needed: 0, available: 0)
        }
        nameAlgorithm = TPMAlgorithm(rawValue: try r.u16("nameAlg"))
        attributes = TPMObjectAttributes(rawValue: try r.u32("objectAttributes"))
        authPolicy = try r.tpm2b("authPolicy")
        let sym = try r.u16("symmetric.algorithm")
        if sym != TPMAlgorithm.null.rawValue { _ = try r.raw(4, "symmetric keyBits/mode") }
        scheme = TPMAlgorithm(rawValue: try r.u16("scheme"))
        schemeHash = scheme == .null ? .null : TPMAlgorithm(rawValue: try r.u16("scheme.hashAlg"))
        keyBits = try r.u16("keyBits")
        exponent = try r.u32("exponent")
        modulus = try r.tpm2b("unique.rsa")
    }
}
