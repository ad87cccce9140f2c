/// A hypercall number: the value a caller puts in r3 before `sc 1`.
///
/// PAPR numbers as in Linux's `arch/powerpc/include/asm/hvcall.h`; the SVM hcalls
/// (0xEF00…0xEF14) and the register counts used when the Ultravisor reflects an
/// hcall come from `open-power/ultravisor include/hvcall.h` and `core/hcall-regs.c`
/// (reference/ultravisor-facts.md §1.3, §1.4).
public struct Hypercall: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number as it appears in r3.
    public let rawValue: UInt64

    /// Wraps a raw r3 value; any value is representable (unknown ones get `H_FUNCTION`).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// `H_REMOVE` (0x04).
    public static let remove = Hypercall(rawValue: 0x04)
    /// `H_ENTER` (0x08).
    public static let enter = Hypercall(rawValue: 0x08)
    /// `H_PUT_TCE` (0x20): one TCE per call on a secure guest (linux-guest-facts §1.9).
    public static let putTCE = Hypercall(rawValue: 0x20)
    /// `H_GET_TERM_CHAR` (0x54): 16 console bytes in registers, nothing to share.
    public static let getTermChar = Hypercall(rawValue: 0x54)
    /// `H_PUT_TERM_CHAR` (0x58).
    public static let putTermChar = Hypercall(rawValue: 0x58)
    /// `H_EOI` (0x64).
    public static let eoi = Hypercall(rawValue: 0x64)
    /// `H_CPPR` (0x68).
    public static let cppr = Hypercall(rawValue: 0x68)
    /// `H_IPI` (0x6C).
    public static let ipi = Hypercall(rawValue: 0x6C)
    /// `H_XIRR` (0x74).
    public static let xirr = Hypercall(rawValue: 0x74)
    /// `H_REGISTER_VPA` (0xDC): register a VPA (LPPACA), SLB shadow or DTL.
    public static let registerVPA = Hypercall(rawValue: 0xDC)
    /// `H_CEDE` (0xE0).
    public static let cede = Hypercall(rawValue: 0xE0)
    /// `H_CONFER` (0xE4).
    public static let confer = Hypercall(rawValue: 0xE4)
    /// `H_PROD` (0xE8).
    public static let prod = Hypercall(rawValue: 0xE8)
    /// `H_VIO_SIGNAL` (0x104).
    public static let vioSignal = Hypercall(rawValue: 0x104)
    /// `H_STUFF_TCE` (0x138).
    public static let stuffTCE = Hypercall(rawValue: 0x138)
    /// `H_PUT_TCE_INDIRECT` (0x13C): not used by secure guests (linux-guest-facts §1.9).
    public static let putTCEIndirect = Hypercall(rawValue: 0x13C)
    /// `H_RANDOM` (0x300).
    public static let random = Hypercall(rawValue: 0x300)
    /// `H_SET_MODE` (0x31C).
    public static let setMode = Hypercall(rawValue: 0x31C)
    /// `H_INT_SET_QUEUE_CONFIG` (0x3B8): XIVE queue pages, shared by secure guests (§1.8).
    public static let intSetQueueConfig = Hypercall(rawValue: 0x3B8)
    /// `H_SVM_PAGE_IN` (0xEF00): r4 gpa, r5 flags (`H_PAGE_IN_SHARED` = 1), r6 order.
    public static let svmPageIn = Hypercall(rawValue: 0xEF00)
    /// `H_SVM_PAGE_OUT` (0xEF04).
    public static let svmPageOut = Hypercall(rawValue: 0xEF04)
    /// `H_SVM_INIT_START` (0xEF08).
    public static let svmInitStart = Hypercall(rawValue: 0xEF08)
    /// `H_SVM_INIT_DONE` (0xEF0C).
    public static let svmInitDone = Hypercall(rawValue: 0xEF0C)
    /// `H_SVM_TPM_COMM` (0xEF10), called H_TPM_COMM in the seed documentation:
    /// r4 op (1 execute, 2 close), r5/r6 request, r7/r8 response; r4 = response size.
    public static let tpmComm = Hypercall(rawValue: 0xEF10)
    /// `H_SVM_INIT_ABORT` (0xEF14).
    public static let svmInitAbort = Hypercall(rawValue: 0xEF14)
    /// `H_RTAS` (0xF000): r4 = address of an `rtas_args` block.
    public static let rtas = Hypercall(rawValue: 0xF000)

    /// Every hypercall SVMKit knows, in numeric order.
    public static let allKnown: [Hypercall] = [
        .remove, .enter, .putTCE, .getTermChar, .putTermChar, .eoi, .cppr, .ipi, .xirr, .registerVPA, .cede,
        .confer, .prod, .vioSignal, .stuffTCE, .putTCEIndirect, .random, .setMode, .intSetQueueConfig,
        .svmPageIn, .svmPageOut, .svmInitStart, .svmInitDone, .tpmComm, .svmInitAbort, .rtas,
    ]

    /// `H_PAGE_IN_NONSHARED` flag for `H_SVM_PAGE_IN`.
    public static let pageInNonShared: UInt64 = 0
    /// `H_PAGE_IN_SHARED` flag for `H_SVM_PAGE_IN`.
    public static let pageInShared: UInt64 = 1

    /// How many registers from r3 up the Ultravisor copies in and out when it reflects
    /// this hcall (`hcall_regs_table`); `nil` for an hcall the table lacks, which makes
    /// the real Ultravisor abort (reference §1.4). `inputs` counts r3 itself.
    public var reflectedRegisterCounts: (inputs: Int, outputs: Int)? {
        switch self {
        case .random: (2, 2)
        case .setMode: (5, 1)
        case .rtas: (2, 2)
        case .svmPageIn, .svmPageOut: (4, 1)
        case .svmInitStart, .svmInitDone, .svmInitAbort: (1, 1)
        case .tpmComm: (6, 2)
        case .registerVPA: (4, 1)
        case .cede: (1, 1)
        case .confer: (3, 1)
        case .prod: (2, 1)
        case .putTermChar: (5, 1)
        case .getTermChar: (2, 4)
        case .putTCE: (4, 1)
        case .stuffTCE: (5, 1)
        case .putTCEIndirect: (5, 1)
        case .eoi, .cppr: (2, 1)
        case .ipi: (3, 1)
        case .xirr: (1, 2)
        case .vioSignal: (3, 1)
        case .intSetQueueConfig: (6, 1)
        case .enter: (5, 2)
        case .remove: (4, 3)
        default: nil
        }
    }

    /// The C name, e.g. `H_REGISTER_VPA`, or `H_0x…` for an unknown number.
    public var name: String {
        switch self {
        case .remove: "H_REMOVE"
        case .enter: "H_ENTER"
        case .putTCE: "H_PUT_TCE"
        case .getTermChar: "H_GET_TERM_CHAR"
        case .putTermChar: "H_PUT_TERM_CHAR"
        case .eoi: "H_EOI"
        case .cppr: "H_CPPR"
        case .ipi: "H_IPI"
        case .xirr: "H_XIRR"
        case .registerVPA: "H_REGISTER_VPA"
        case .cede: "H_CEDE"
        case .confer: "H_CONFER"
        case .prod: "H_PROD"
        case .vioSignal: "H_VIO_SIGNAL"
        case .stuffTCE: "H_STUFF_TCE"
        case .putTCEIndirect: "H_PUT_TCE_INDIRECT"
        case .random: "H_RANDOM"
        case .setMode: "H_SET_MODE"
        case .intSetQueueConfig: "H_INT_SET_QUEUE_CONFIG"
        case .svmPageIn: "H_SVM_PAGE_IN"
        case .svmPageOut: "H_SVM_PAGE_OUT"
        case .svmInitStart: "H_SVM_INIT_START"
        case .svmInitDone: "H_SVM_INIT_DONE"
        case .tpmComm: "H_TPM_COMM"
        case .svmInitAbort: "H_SVM_INIT_ABORT"
        case .rtas: "H_RTAS"
        default: "H_0x" + String(rawValue, radix: 16, uppercase: true)
        }
    }

    /// The C name.
    public var description: String { name }

    /// Orders by number.
    public static func < (lhs: Hypercall, rhs: Hypercall) -> Bool { lhs.rawValue < rhs.rawValue }
}
