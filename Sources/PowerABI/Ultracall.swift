/// An ultracall number: the value a caller puts in r3 before `sc 2`.
///
/// Values and the caller each one allows come from `open-power/ultravisor
/// include/uapi_uvcall.h` and `core/uvcall.c` (reference/ultravisor-facts.md §1.1);
/// the Linux names are in `arch/powerpc/include/asm/ultravisor-api.h`.
public struct Ultracall: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number as it appears in r3.
    public let rawValue: UInt64

    /// Wraps a raw r3 value; any value is representable (unknown ones get `U_FUNCTION`).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `UV_WRITE_PATE` (0xF104): the hypervisor writes a partition-table entry.
    public static let writePATE = Ultracall(rawValue: 0xF104)
    /// `UV_RESTRICTED_SPR_WRITE` (0xF108).
    public static let restrictedSPRWrite = Ultracall(rawValue: 0xF108)
    /// `UV_RESTRICTED_SPR_READ` (0xF10C); the value comes back in r5.
    public static let restrictedSPRRead = Ultracall(rawValue: 0xF10C)
    /// `UV_ESM` (0xF110): enter secure mode; r4 = kbase, r5 = FDT address.
    public static let enterSecureMode = Ultracall(rawValue: 0xF110)
    /// `UV_READ_SCOM` (0xF114).
    public static let readSCOM = Ultracall(rawValue: 0xF114)
    /// `UV_WRITE_SCOM` (0xF118).
    public static let writeSCOM = Ultracall(rawValue: 0xF118)
    /// `UV_RETURN` (0xF11C): the hypervisor returns a reflected hcall's results.
    public static let `return` = Ultracall(rawValue: 0xF11C)
    /// `UV_REGISTER_MEM_SLOT` (0xF120).
    public static let registerMemorySlot = Ultracall(rawValue: 0xF120)
    /// `UV_UNREGISTER_MEM_SLOT` (0xF124).
    public static let unregisterMemorySlot = Ultracall(rawValue: 0xF124)
    /// `UV_PAGE_IN` (0xF128).
    public static let pageIn = Ultracall(rawValue: 0xF128)
    /// `UV_PAGE_OUT` (0xF12C).
    public static let pageOut = Ultracall(rawValue: 0xF12C)
    /// `UV_SHARE_PAGE` (0xF130): r4 = gfn, r5 = number of 64 KiB pages (`uv_share_page()`).
    public static let sharePage = Ultracall(rawValue: 0xF130)
    /// `UV_UNSHARE_PAGE` (0xF134) (`uv_unshare_page()`).
    public static let unsharePage = Ultracall(rawValue: 0xF134)
    /// `UV_PAGE_INVAL` (0xF138).
    public static let pageInvalidate = Ultracall(rawValue: 0xF138)
    /// `UV_SVM_TERMINATE` (0xF13C).
    public static let terminateSVM = Ultracall(rawValue: 0xF13C)
    /// `UV_UNSHARE_ALL_PAGES` (0xF140) (`uv_unshare_all_pages()`).
    public static let unshareAllPages = Ultracall(rawValue: 0xF140)
    /// `UV_READ_MEM` (0xF144).
    public static let readMemory = Ultracall(rawValue: 0xF144)
    /// `UV_WRITE_MEM` (0xF148).
    public static let writeMemory = Ultracall(rawValue: 0xF148)
    /// `UV_ESMB_GET_FILE` (0xF14C): read an ESM attachment; allowed from any context.
    public static let getESMFile = Ultracall(rawValue: 0xF14C)
    /// `UV_SEND_SBE_COMMAND` (0xF150).
    public static let sendSBECommand = Ultracall(rawValue: 0xF150)

    /// Every ultracall the Ultravisor defines, in numeric order.
    public static let allDefined: [Ultracall] = [
        .writePATE, .restrictedSPRWrite, .restrictedSPRRead, .enterSecureMode, .readSCOM, .writeSCOM,
        .return, .registerMemorySlot, .unregisterMemorySlot, .pageIn, .pageOut, .sharePage, .unsharePage,
        .pageInvalidate, .terminateSVM, .unshareAllPages, .readMemory, .writeMemory, .getESMFile,
        .sendSBECommand,
    ]

    /// Who may make this ultracall (reference/ultravisor-facts.md §1.1), or `nil` if undefined.
    public var allowedCaller: UltracallCaller? {
        switch self {
        case .enterSecureMode: return .supervisor
        case .sharePage, .unsharePage, .unshareAllPages: return .secureSupervisor
        case .getESMFile: return .anyone
        default: return Self.allDefined.contains(self) ? .hypervisor : nil
        }
    }

    /// The C name, e.g. `UV_SHARE_PAGE`, or `UV_0x…` for an undefined number.
    public var name: String {
        switch self {
        case .writePATE: "UV_WRITE_PATE"
        case .restrictedSPRWrite: "UV_RESTRICTED_SPR_WRITE"
        case .restrictedSPRRead: "UV_RESTRICTED_SPR_READ"
        case .enterSecureMode: "UV_ESM"
        case .readSCOM: "UV_READ_SCOM"
        case .writeSCOM: "UV_WRITE_SCOM"
        case .return: "UV_RETURN"
        case .registerMemorySlot: "UV_REGISTER_MEM_SLOT"
        case .unregisterMemorySlot: "UV_UNREGISTER_MEM_SLOT"
        case .pageIn: "UV_PAGE_IN"
        case .pageOut: "UV_PAGE_OUT"
        case .sharePage: "UV_SHARE_PAGE"
        case .unsharePage: "UV_UNSHARE_PAGE"
        case .pageInvalidate: "UV_PAGE_INVAL"
        case .terminateSVM: "UV_SVM_TERMINATE"
        case .unshareAllPages: "UV_UNSHARE_ALL_PAGES"
        case .readMemory: "UV_READ_MEM"
        case .writeMemory: "UV_WRITE_MEM"
        case .getESMFile: "UV_ESMB_GET_FILE"
        case .sendSBECommand: "UV_SEND_SBE_COMMAND"
        default: "UV_0x" + String(rawValue, radix: 16, uppercase: true)
        }
    }

    /// The C name.
    public var description: String { name }

    /// Orders by number.
    public static func < (lhs: Ultracall, rhs: Ultracall) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The privilege an ultracall demands of its caller, checked on the caller's MSR
/// (SRR1) as `core/uvcall.c` does (reference/ultravisor-facts.md §1.1).
public enum UltracallCaller: String, Sendable, Hashable, CaseIterable {
    /// HV = 1 and PR = 0: the hypervisor.
    case hypervisor
    /// HV = 0 and PR = 0, MSR(S) not required: `UV_ESM`.
    case supervisor
    /// MSR(S) = 1, HV = 0, PR = 0: an SVM's kernel (share and unshare calls).
    case secureSupervisor
    /// No MSR check at all: `UV_ESMB_GET_FILE`.
    case anyone

    /// Whether a caller in `state` passes this check.
    public func admits(_ state: PrivilegeState) -> Bool {
        switch self {
        case .hypervisor: state.msr.contains(.hypervisor) && !state.msr.contains(.problemState)
        case .supervisor: !state.msr.contains(.hypervisor) && !state.msr.contains(.problemState)
        case .secureSupervisor:
            state.msr.contains(.secure) && !state.msr.contains(.hypervisor) && !state.msr.contains(.problemState)
        case .anyone: true
        }
    }
}
