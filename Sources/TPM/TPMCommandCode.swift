/// A TPM 2.0 command code (`TPM_CC`, TPM 2.0 Part 2 §6.5), for the commands the
/// Ultravisor's TSS sends (reference/ultravisor-facts.md §2.7) and a few more.
public struct TPMCommandCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 32-bit code.
    public let rawValue: UInt32
    /// Wraps a code.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `TPM_CC_ObjectChangeAuth` (0x150): used by the default second policy branch.
    public static let objectChangeAuth = TPMCommandCode(rawValue: 0x0000_0150)
    /// `TPM_CC_RSA_Decrypt` (0x159).
    public static let rsaDecrypt = TPMCommandCode(rawValue: 0x0000_0159)
    /// `TPM_CC_FlushContext` (0x165).
    public static let flushContext = TPMCommandCode(rawValue: 0x0000_0165)
    /// `TPM_CC_PolicyAuthValue` (0x16B).
    public static let policyAuthValue = TPMCommandCode(rawValue: 0x0000_016B)
    /// `TPM_CC_PolicyCommandCode` (0x16C).
    public static let policyCommandCode = TPMCommandCode(rawValue: 0x0000_016C)
    /// `TPM_CC_PolicyOR` (0x171).
    public static let policyOR = TPMCommandCode(rawValue: 0x0000_0171)
    /// `TPM_CC_ReadPublic` (0x173).
    public static let readPublic = TPMCommandCode(rawValue: 0x0000_0173)
    /// `TPM_CC_StartAuthSession` (0x176).
    public static let startAuthSession = TPMCommandCode(rawValue: 0x0000_0176)
    /// `TPM_CC_GetRandom` (0x17B).
    public static let getRandom = TPMCommandCode(rawValue: 0x0000_017B)
    /// `TPM_CC_PolicyGetDigest` (0x189).
    public static let policyGetDigest = TPMCommandCode(rawValue: 0x0000_0189)

    /// The commands ``SoftwareTPM`` executes.
    public static let implemented: [TPMCommandCode] = [
        .rsaDecrypt, .flushContext, .policyAuthValue, .policyCommandCode, .policyOR, .readPublic, .startAuthSession,
        .getRandom, .policyGetDigest,
    ]

    /// `TPM2_<Name>` for known codes, else the hex value.
    public var description: String {
        switch self {
        case .objectChangeAuth: "TPM2_ObjectChangeAuth"
        case .rsaDecrypt: "TPM2_RSA_Decrypt"
        case .flushContext: "TPM2_FlushContext"
        case .policyAuthValue: "TPM2_PolicyAuthValue"
        case .policyCommandCode: "TPM2_PolicyCommandCode"
        case .policyOR: "TPM2_PolicyOR"
        case .readPublic: "TPM2_ReadPublic"
        case .startAuthSession: "TPM2_StartAuthSession"
        case .getRandom: "TPM2_GetRandom"
        case .policyGetDigest: "TPM2_PolicyGetDigest"
        default: "TPM_CC 0x" + String(rawValue, radix: 16)
        }
    }
}
