/// A TPM 2.0 response code (`TPM_RC`, TPM 2.0 Part 2 §6.6), as it comes back in the
/// response header.
///
/// Format-1 codes (bit 7 set) also say which handle, parameter or session was at fault:
/// ``handle(_:)``, ``parameter(_:)`` and ``session(_:)`` add that number, and
/// ``base`` removes it.
public struct TPMResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 32-bit code.
    public let rawValue: UInt32
    /// Wraps a code.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `TPM_RC_SUCCESS`.
    public static let success = TPMResponseCode(rawValue: 0x000)
    /// `TPM_RC_BAD_TAG`: the command tag is not NO_SESSIONS or SESSIONS.
    public static let badTag = TPMResponseCode(rawValue: 0x01E)
    /// `TPM_RC_INITIALIZE`.
    public static let initialize = TPMResponseCode(rawValue: 0x100)
    /// `TPM_RC_FAILURE`.
    public static let failure = TPMResponseCode(rawValue: 0x101)
    /// `TPM_RC_AUTH_TYPE`: an authorization of the wrong type.
    public static let authType = TPMResponseCode(rawValue: 0x124)
    /// `TPM_RC_AUTH_MISSING`: the command needs an authorization session.
    public static let authMissing = TPMResponseCode(rawValue: 0x125)
    /// `TPM_RC_AUTH_UNAVAILABLE`: the object allows no password/HMAC authorization
    /// (`userWithAuth` clear).
    public static let authUnavailable = TPMResponseCode(rawValue: 0x12F)
    /// `TPM_RC_COMMAND_SIZE`: the header size does not match, or is over the limit.
    public static let commandSize = TPMResponseCode(rawValue: 0x142)
    /// `TPM_RC_COMMAND_CODE`: not an implemented command.
    public static let commandCode = TPMResponseCode(rawValue: 0x143)
    /// `TPM_RC_AUTHSIZE`: the authorization area size is wrong.
    public static let authSize = TPMResponseCode(rawValue: 0x144)
    /// `TPM_RC_AUTH_CONTEXT`: sessions where the command takes none.
    public static let authContext = TPMResponseCode(rawValue: 0x145)
    /// `TPM_RC_ATTRIBUTES` (format 1).
    public static let attributes = TPMResponseCode(rawValue: 0x082)
    /// `TPM_RC_HASH` (format 1): an unsupported hash.
    public static let hash = TPMResponseCode(rawValue: 0x083)
    /// `TPM_RC_VALUE` (format 1): a value out of range or wrong.
    public static let value = TPMResponseCode(rawValue: 0x084)
    /// `TPM_RC_HANDLE` (format 1): the handle does not reference a loaded object.
    public static let handle = TPMResponseCode(rawValue: 0x08B)
    /// `TPM_RC_AUTH_FAIL` (format 1): a wrong authorization on a DA-protected object.
    public static let authFail = TPMResponseCode(rawValue: 0x08E)
    /// `TPM_RC_SCHEME` (format 1).
    public static let scheme = TPMResponseCode(rawValue: 0x092)
    /// `TPM_RC_SIZE` (format 1).
    public static let size = TPMResponseCode(rawValue: 0x095)
    /// `TPM_RC_SYMMETRIC` (format 1).
    public static let symmetric = TPMResponseCode(rawValue: 0x096)
    /// `TPM_RC_INSUFFICIENT` (format 1): the command ended early.
    public static let insufficient = TPMResponseCode(rawValue: 0x09A)
    /// `TPM_RC_POLICY_FAIL` (format 1): the session's policy digest is not the object's.
    public static let policyFail = TPMResponseCode(rawValue: 0x09D)
    /// `TPM_RC_RESERVED_BITS` (format 1).
    public static let reservedBits = TPMResponseCode(rawValue: 0x0A1)
    /// `TPM_RC_BAD_AUTH` (format 1): a wrong authorization on a `noDA` object.
    public static let badAuth = TPMResponseCode(rawValue: 0x0A2)
    /// `TPM_RC_POLICY_CC` (format 1): the policy is bound to another command.
    public static let policyCC = TPMResponseCode(rawValue: 0x0A4)
    /// `TPM_RC_SESSION_MEMORY` (warning): no room for another session.
    public static let sessionMemory = TPMResponseCode(rawValue: 0x903)
    /// `TPM_RC_REFERENCE_H0` (warning): the first handle references no loaded session.
    public static let referenceH0 = TPMResponseCode(rawValue: 0x910)
    /// `TPM_RC_REFERENCE_S0` (warning): the first session is not loaded.
    public static let referenceS0 = TPMResponseCode(rawValue: 0x918)

    /// Whether this is a format-1 code (bit 7).
    public var isFormatOne: Bool { rawValue & 0x080 != 0 }

    /// A format-1 code without its handle/parameter/session number.
    public var base: TPMResponseCode { isFormatOne ? TPMResponseCode(rawValue: rawValue & 0xBF) : self }

    /// The format-1 code blaming handle `n` (1…7).
    public func handle(_ n: UInt32) -> TPMResponseCode { TPMResponseCode(rawValue: rawValue | (n & 7) << 8) }
    /// The format-1 code blaming parameter `n` (1…15).
    public func parameter(_ n: UInt32) -> TPMResponseCode { TPMResponseCode(rawValue: rawValue | 0x040 | (n & 0xF) << 8) }
    /// The format-1 code blaming session `n` (1…7).
    public func session(_ n: UInt32) -> TPMResponseCode { TPMResponseCode(rawValue: rawValue | 0x800 | (n & 7) << 8) }

    /// What the number bits of a format-1 code point at, e.g. `session 1`.
    public var subject: String? {
        guard isFormatOne else { return nil }
        let n = (rawValue >> 8) & 0xF
        if rawValue & 0x040 != 0 { return "parameter \(n)" }
        if n == 0 { return nil }
        return n & 8 != 0 ? "session \(n & 7)" : "handle \(n)"
    }

    /// The `TPM_RC_*` name, the subject and the hex value, e.g.
    /// `TPM_RC_POLICY_FAIL (session 1) 0x99d`.
    public var description: String {
        let names: [TPMResponseCode: String] = [
            .success: "TPM_RC_SUCCESS", .badTag: "TPM_RC_BAD_TAG", .initialize: "TPM_RC_INITIALIZE", .failure: "TPM_RC_FAILURE",
            .authType: "TPM_RC_AUTH_TYPE", .authMissing: "TPM_RC_AUTH_MISSING", .authUnavailable: "TPM_RC_AUTH_UNAVAILABLE",
            .commandSize: "TPM_RC_COMMAND_SIZE", .commandCode: "TPM_RC_COMMAND_CODE", .authSize: "TPM_RC_AUTHSIZE",
            .authContext: "TPM_RC_AUTH_CONTEXT", .attributes: "TPM_RC_ATTRIBUTES", .hash: "TPM_RC_HASH", .value: "TPM_RC_VALUE",
            .handle: "TPM_RC_HANDLE", .authFail: "TPM_RC_AUTH_FAIL", .scheme: "TPM_RC_SCHEME", .size: "TPM_RC_SIZE",
            .symmetric: "TPM_RC_SYMMETRIC", .insufficient: "TPM_RC_INSUFFICIENT", .policyFail: "TPM_RC_POLICY_FAIL",
            .reservedBits: "TPM_RC_RESERVED_BITS", .badAuth: "TPM_RC_BAD_AUTH", .policyCC: "TPM_RC_POLICY_CC",
            .sessionMemory: "TPM_RC_SESSION_MEMORY", .referenceH0: "TPM_RC_REFERENCE_H0", .referenceS0: "TPM_RC_REFERENCE_S0",
        ]
        let name = names[base] ?? "TPM_RC"
        let hex = "0x" + String(rawValue, radix: 16)
        if let subject { return "\(name) (\(subject)) \(hex)" }
        return "\(name) \(hex)"
    }
}
