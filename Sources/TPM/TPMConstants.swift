/// A TPM algorithm identifier (`TPM_ALG_ID`, TPM 2.0 Part 2 §6.3).
public struct TPMAlgorithm: RawRepresentable, Hashable, Sendable {
    /// The 16-bit identifier.
    public let rawValue: UInt16
    /// Wraps an identifier.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `TPM_ALG_RSA`.
    public static let rsa = TPMAlgorithm(rawValue: 0x0001)
    /// `TPM_ALG_SHA1`.
    public static let sha1 = TPMAlgorithm(rawValue: 0x0004)
    /// `TPM_ALG_AES`.
    public static let aes = TPMAlgorithm(rawValue: 0x0006)
    /// `TPM_ALG_XOR`.
    public static let xor = TPMAlgorithm(rawValue: 0x000A)
    /// `TPM_ALG_SHA256`.
    public static let sha256 = TPMAlgorithm(rawValue: 0x000B)
    /// `TPM_ALG_NULL`.
    public static let null = TPMAlgorithm(rawValue: 0x0010)
    /// `TPM_ALG_RSAES` (PKCS#1 v1.5 encryption).
    public static let rsaes = TPMAlgorithm(rawValue: 0x0015)
    /// `TPM_ALG_OAEP`.
    public static let oaep = TPMAlgorithm(rawValue: 0x0017)
    /// `TPM_ALG_CFB`.
    public static let cfb = TPMAlgorithm(rawValue: 0x0043)
}

/// A TPM structure tag (`TPMI_ST_COMMAND_TAG`): whether a command or response carries an
/// authorization area.
public struct TPMStructureTag: RawRepresentable, Hashable, Sendable {
    /// The 16-bit tag.
    public let rawValue: UInt16
    /// Wraps a tag.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `TPM_ST_NO_SESSIONS` (0x8001).
    public static let noSessions = TPMStructureTag(rawValue: 0x8001)
    /// `TPM_ST_SESSIONS` (0x8002).
    public static let sessions = TPMStructureTag(rawValue: 0x8002)
}

/// TPM handles and handle ranges used here (`TPM_RH_*`, `TPM_HT_*`).
public enum TPMHandle {
    /// `TPM_RH_OWNER`.
    public static let owner: UInt32 = 0x4000_0001
    /// `TPM_RH_NULL`.
    public static let null: UInt32 = 0x4000_0007
    /// `TPM_RS_PW`: the password authorization "session".
    public static let passwordSession: UInt32 = 0x4000_0009
    /// The persistent handle of the wrapping key the Ultravisor uses (svm-tools docs:
    /// `tssreadpublic -ho 81800001`; skiboot `libstb/tss2/opalcreate.c`).
    public static let wrappingKey: UInt32 = 0x8180_0001
    /// `TPM_HT_HMAC_SESSION` handles start here.
    public static let firstHMACSession: UInt32 = 0x0200_0000
    /// `TPM_HT_POLICY_SESSION` handles start here.
    public static let firstPolicySession: UInt32 = 0x0300_0000

    /// The handle type, the top byte (`TPM_HT`).
    public static func type(of handle: UInt32) -> UInt8 { UInt8(handle >> 24) }
}

/// `TPM_SE`: the kind of session StartAuthSession makes.
public enum TPMSessionType: UInt8, Hashable, Sendable {
    /// `TPM_SE_HMAC`.
    case hmac = 0x00
    /// `TPM_SE_POLICY`.
    case policy = 0x01
    /// `TPM_SE_TRIAL`: computes a policy digest, authorizes nothing.
    case trial = 0x03
}

/// `TPMA_SESSION`: per-command session attributes.
public struct TPMSessionAttributes: OptionSet, Hashable, Sendable {
    /// The attribute octet.
    public let rawValue: UInt8
    /// Wraps an attribute octet.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `continueSession`: keep the session loaded after the command.
    public static let continueSession = TPMSessionAttributes(rawValue: 0x01)
    /// `auditExclusive`.
    public static let auditExclusive = TPMSessionAttributes(rawValue: 0x02)
    /// `auditReset`.
    public static let auditReset = TPMSessionAttributes(rawValue: 0x04)
    /// `decrypt`: the command's first parameter is encrypted.
    public static let decrypt = TPMSessionAttributes(rawValue: 0x20)
    /// `encrypt`: the response's first parameter is encrypted.
    public static let encrypt = TPMSessionAttributes(rawValue: 0x40)
    /// `audit`.
    public static let audit = TPMSessionAttributes(rawValue: 0x80)
    /// Bits 3 and 4 are reserved.
    public static let reserved = TPMSessionAttributes(rawValue: 0x18)
}

/// `TPMA_OBJECT`: object attributes.
public struct TPMObjectAttributes: OptionSet, Hashable, Sendable {
    /// The attribute bits.
    public let rawValue: UInt32
    /// Wraps attribute bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `fixedTPM`.
    public static let fixedTPM = TPMObjectAttributes(rawValue: 1 << 1)
    /// `stClear`.
    public static let stClear = TPMObjectAttributes(rawValue: 1 << 2)
    /// `fixedParent`.
    public static let fixedParent = TPMObjectAttributes(rawValue: 1 << 4)
    /// `sensitiveDataOrigin`.
    public static let sensitiveDataOrigin = TPMObjectAttributes(rawValue: 1 << 5)
    /// `userWithAuth`: USER role may use a password or HMAC; when clear, only a policy.
    public static let userWithAuth = TPMObjectAttributes(rawValue: 1 << 6)
    /// `adminWithPolicy`.
    public static let adminWithPolicy = TPMObjectAttributes(rawValue: 1 << 7)
    /// `noDA`: no dictionary-attack protection (a wrong authorization gives
    /// `TPM_RC_BAD_AUTH` instead of `TPM_RC_AUTH_FAIL`).
    public static let noDA = TPMObjectAttributes(rawValue: 1 << 10)
    /// `restricted`.
    public static let restricted = TPMObjectAttributes(rawValue: 1 << 16)
    /// `decrypt`.
    public static let decrypt = TPMObjectAttributes(rawValue: 1 << 17)
    /// `sign`.
    public static let sign = TPMObjectAttributes(rawValue: 1 << 18)
}
