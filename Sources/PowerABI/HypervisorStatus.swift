/// A hypervisor return code (`H_*`), as the caller finds it in r3.
///
/// Values from Linux `arch/powerpc/include/asm/hvcall.h` and `open-power/ultravisor
/// include/hvcall.h` (reference/ultravisor-facts.md §1.5).
public struct HypervisorStatus: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    /// The signed value.
    public let rawValue: Int64

    /// Wraps a signed value.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Reads r3 as a signed status.
    public init(register: UInt64) { self.rawValue = Int64(bitPattern: register) }

    /// The value as it sits in r3.
    public var register: UInt64 { UInt64(bitPattern: rawValue) }

    /// `H_SUCCESS` (0).
    public static let success = HypervisorStatus(rawValue: 0)
    /// `H_BUSY` (1).
    public static let busy = HypervisorStatus(rawValue: 1)
    /// `H_NOT_AVAILABLE` (3).
    public static let notAvailable = HypervisorStatus(rawValue: 3)
    /// `H_HARDWARE` (-1).
    public static let hardware = HypervisorStatus(rawValue: -1)
    /// `H_FUNCTION` (-2): unknown or unsupported hcall.
    public static let function = HypervisorStatus(rawValue: -2)
    /// `H_PRIVILEGE` (-3).
    public static let privilege = HypervisorStatus(rawValue: -3)
    /// `H_PARAMETER` (-4); also what a guest sees after a failed `UV_ESM`.
    public static let parameter = HypervisorStatus(rawValue: -4)
    /// `H_BAD_MODE` (-5).
    public static let badMode = HypervisorStatus(rawValue: -5)
    /// `H_NOT_FOUND` (-7).
    public static let notFound = HypervisorStatus(rawValue: -7)
    /// `H_NO_MEM` (-9).
    public static let noMemory = HypervisorStatus(rawValue: -9)
    /// `H_AUTHORITY` (-10): e.g. `H_SVM_INIT_START` for a VM QEMU did not enable for
    /// secure mode (`arch/powerpc/include/asm/hvcall.h`).
    public static let authority = HypervisorStatus(rawValue: -10)
    /// `H_PERMISSION` (-11).
    public static let permission = HypervisorStatus(rawValue: -11)
    /// `H_RESOURCE` (-16).
    public static let resource = HypervisorStatus(rawValue: -16)
    /// `H_P2` (-55).
    public static let p2 = HypervisorStatus(rawValue: -55)
    /// `H_P3` (-56).
    public static let p3 = HypervisorStatus(rawValue: -56)
    /// `H_P4` (-57).
    public static let p4 = HypervisorStatus(rawValue: -57)
    /// `H_P5` (-58).
    public static let p5 = HypervisorStatus(rawValue: -58)
    /// `H_UNSUPPORTED` (-67).
    public static let unsupported = HypervisorStatus(rawValue: -67)
    /// `H_STATE` (-75).
    public static let state = HypervisorStatus(rawValue: -75)

    /// Every named code.
    public static let allNamed: [HypervisorStatus] = [
        .success, .busy, .notAvailable, .hardware, .function, .privilege, .parameter, .badMode, .notFound,
        .noMemory, .authority, .permission, .resource, .p2, .p3, .p4, .p5, .unsupported, .state,
    ]

    /// The C name, e.g. `H_PARAMETER`, or the number for an unnamed value.
    public var name: String {
        switch rawValue {
        case 0: "H_SUCCESS"
        case 1: "H_BUSY"
        case 3: "H_NOT_AVAILABLE"
        case -1: "H_HARDWARE"
        case -2: "H_FUNCTION"
        case -3: "H_PRIVILEGE"
        case -4: "H_PARAMETER"
        case -5: "H_BAD_MODE"
        case -7: "H_NOT_FOUND"
        case -9: "H_NO_MEM"
        case -10: "H_AUTHORITY"
        case -11: "H_PERMISSION"
        case -16: "H_RESOURCE"
        case -55: "H_P2"
        case -56: "H_P3"
        case -57: "H_P4"
        case -58: "H_P5"
        case -67: "H_UNSUPPORTED"
        case -75: "H_STATE"
        default: "H(\(rawValue))"
        }
    }

    /// The C name and value, e.g. `H_PARAMETER (-4)`.
    public var description: String { "\(name) (\(rawValue))" }
}
