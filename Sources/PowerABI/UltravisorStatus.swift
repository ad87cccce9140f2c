/// An Ultravisor return code (`U_*`), as the caller finds it in r3.
///
/// Values from `open-power/ultravisor include/uapi_uvcall.h` and `include/uvcall.h`
/// (reference/ultravisor-facts.md §1.2). The documentation's `U_INVALID`, `U_INVAL`
/// and `U_NO_KEY` are defined nowhere and returned by no code, so they have no case here.
public struct UltravisorStatus: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    /// The signed value.
    public let rawValue: Int64

    /// Wraps a signed value.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Reads r3 as a signed status.
    public init(register: UInt64) { self.rawValue = Int64(bitPattern: register) }

    /// Whether r3 still holds `call`'s own number rather than a status. The public
    /// firmware ends `UV_SHARE_PAGE`, `UV_UNSHARE_PAGE` and `UV_UNSHARE_ALL_PAGES` with
    /// `ctx_end_context`, which restores the saved frame (`core/uvcall.c:
    /// uv_switch_page`, `uv_unshare_all_pages`, open-power/ultravisor 63669595), so r3
    /// says nothing about the outcome: neither success nor failure.
    public func isUltracallNumber(of call: Ultracall) -> Bool { register == call.rawValue }

    /// The value as it sits in r3.
    public var register: UInt64 { UInt64(bitPattern: rawValue) }

    /// `U_SUCCESS` (0).
    public static let success = UltravisorStatus(rawValue: 0)
    /// `U_FUNCTION` (-2): unknown ultracall. `U_BUSY` has the same value.
    public static let function = UltravisorStatus(rawValue: -2)
    /// `U_BUSY` (-2), internal; equal to `U_FUNCTION`.
    public static let busy = UltravisorStatus(rawValue: -2)
    /// `U_PARAMETER` (-4).
    public static let parameter = UltravisorStatus(rawValue: -4)
    /// `U_RETRY` (-5).
    public static let retry = UltravisorStatus(rawValue: -5)
    /// `U_HARDWARE` (-6).
    public static let hardware = UltravisorStatus(rawValue: -6)
    /// `U_UNSUPPORTED` (-7).
    public static let unsupported = UltravisorStatus(rawValue: -7)
    /// `U_PERMISSION` (-11): the caller's privilege is wrong.
    public static let permission = UltravisorStatus(rawValue: -11)
    /// `U_WRONG_STATE` (-14), also `U_XSCOM_CHIPLET_OFF`.
    public static let wrongState = UltravisorStatus(rawValue: -14)
    /// `U_XSCOM_PARTIAL_GOOD` (-25).
    public static let xscomPartialGood = UltravisorStatus(rawValue: -25)
    /// `U_XSCOM_ADDR_ERROR` (-26).
    public static let xscomAddressError = UltravisorStatus(rawValue: -26)
    /// `U_XSCOM_CLOCK_ERROR` (-27).
    public static let xscomClockError = UltravisorStatus(rawValue: -27)
    /// `U_XSCOM_PARITY_ERROR` (-28).
    public static let xscomParityError = UltravisorStatus(rawValue: -28)
    /// `U_XSCOM_TIMEOUT` (-29).
    public static let xscomTimeout = UltravisorStatus(rawValue: -29)
    /// `U_P2` (-55): the first argument (r4) is bad.
    public static let p2 = UltravisorStatus(rawValue: -55)
    /// `U_P3` (-56).
    public static let p3 = UltravisorStatus(rawValue: -56)
    /// `U_P4` (-57).
    public static let p4 = UltravisorStatus(rawValue: -57)
    /// `U_P5` (-58).
    public static let p5 = UltravisorStatus(rawValue: -58)
    /// `U_BAD_MODE` (-59): transactional memory active on a hypervisor ultracall.
    public static let badMode = UltravisorStatus(rawValue: -59)
    /// `U_STATE` (-75).
    public static let state = UltravisorStatus(rawValue: -75)

    /// Every named code (`U_BUSY` is omitted as it equals `U_FUNCTION`).
    public static let allNamed: [UltravisorStatus] = [
        .success, .function, .parameter, .retry, .hardware, .unsupported, .permission, .wrongState,
        .xscomPartialGood, .xscomAddressError, .xscomClockError, .xscomParityError, .xscomTimeout,
        .p2, .p3, .p4, .p5, .badMode, .state,
    ]

    /// The C name, e.g. `U_P2`, or the number for an unnamed value.
    public var name: String {
        switch rawValue {
        case 0: "U_SUCCESS"
        case -2: "U_FUNCTION"
        case -4: "U_PARAMETER"
        case -5: "U_RETRY"
        case -6: "U_HARDWARE"
        case -7: "U_UNSUPPORTED"
        case -11: "U_PERMISSION"
        case -14: "U_WRONG_STATE"
        case -25: "U_XSCOM_PARTIAL_GOOD"
        case -26: "U_XSCOM_ADDR_ERROR"
        case -27: "U_XSCOM_CLOCK_ERROR"
        case -28: "U_XSCOM_PARITY_ERROR"
        case -29: "U_XSCOM_TIMEOUT"
        case -55: "U_P2"
        case -56: "U_P3"
        case -57: "U_P4"
        case -58: "U_P5"
        case -59: "U_BAD_MODE"
        case -75: "U_STATE"
        default: "U(\(rawValue))"
        }
    }

    /// The C name and value, e.g. `U_P2 (-55)`.
    public var description: String { "\(name) (\(rawValue))" }
}
