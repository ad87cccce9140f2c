import SWIOTLB

/// The `swiotlb=` kernel parameter: `<slabs>[,<areas>][,force|noforce]`.
///
/// Models `setup_io_tlb_npages()` in `kernel/dma/swiotlb.c`
/// (reference/linux-guest-facts.md §2.7): the slot count is aligned up to 128
/// (`IO_TLB_SEGSIZE`); the area count is rounded up to a power of two, 0 meaning 1
/// (`swiotlb_adjust_nareas()`); `force` bounces every mapping and `noforce` turns
/// SWIOTLB off. Numbers are read like `simple_strtoul(…, 0)` (decimal, `0x` hex,
/// leading-0 octal). Every occurrence is applied in order, so a later one
/// overrides the fields it sets, with two Linux rules the Linux oracle confirmed
/// (`swiotlb_adjust_nareas()` and `setup_io_tlb_npages()`, kernel/dma/swiotlb.c, 6.12):
/// an area count rounds the slot count known at that moment (so
/// `swiotlb=,4 swiotlb=40000` keeps 40064 slots), and `force` and `noforce` are
/// two sticky flags (`swiotlb_force_bounce`, `swiotlb_force_disable`), so
/// `swiotlb=noforce swiotlb=force` leaves SWIOTLB disabled. Before 6.0 (`areas: false`)
/// both words set one variable, `swiotlb_force`, so the last one wins, and `noforce` also
/// sets the slot count to 1 (`kernel/dma/swiotlb.c: setup_io_tlb_npages (5.4.301,
/// 5.10.265)`). Parts Linux silently ignores are reported.
public struct SWIOTLBOption: Hashable, Sendable {
    /// Force mode requested.
    public enum ForceMode: String, Hashable, Sendable {
        /// `force`: bounce every mapping.
        case force
        /// `noforce`: disable SWIOTLB.
        case noforce
    }

    /// `default_nslabs` after the command line: the slot count asked for, aligned up to
    /// 128, and raised as `swiotlb_adjust_nareas()` rounds it when an area count
    /// follows; `nil` while it is still the 64 MiB default. Before 6.0 `noforce` sets
    /// `io_tlb_nslabs = 1`.
    public private(set) var slabs: Int?
    /// Number of areas asked for, rounded up to a power of two; `nil` if not given.
    public private(set) var areas: Int?
    /// `swiotlb_force_bounce`: some `swiotlb=` said `force` (sticky; before 6.0
    /// `swiotlb_force == SWIOTLB_FORCE`: the last word said `force`).
    public private(set) var force = false
    /// `swiotlb_force_disable`: some `swiotlb=` said `noforce` (sticky; wins over `force`,
    /// since `swiotlb_init_remap()` returns early on it; before 6.0 the last word said
    /// `noforce`).
    public private(set) var noforce = false
    /// The mode that takes effect: `noforce` if it was ever given, else `force` if it was.
    public var forceMode: ForceMode? { noforce ? .noforce : force ? .force : nil }
    /// Ignored parts and round-ups.
    public private(set) var diagnostics: [CommandLineDiagnostic] = []

    /// `IO_TLB_SEGSIZE`: slots per segment.
    public static let segmentSlots = 128

    /// Whether the grammar has the area count (`<slabs>[,<areas>][,force|noforce]`,
    /// since 6.0); without it, `<slabs>[,force|noforce]`
    /// (``LinuxVersion/swiotlbAreas``).
    public let acceptsAreas: Bool

    /// Reads every `swiotlb=` of a command line; `areas: false` reads it as 5.x does
    /// (`kernel/dma/swiotlb.c: setup_io_tlb_npages (5.4.301, 5.10.265)`: no area count,
    /// so in `swiotlb=65536,4,force` the `4,force` is not understood; `force` and
    /// `noforce` overwrite each other; `noforce` sets 1 slot).
    public init(_ commandLine: KernelCommandLine, areas: Bool = true) {
        acceptsAreas = areas
        for p in commandLine.parameters(named: "swiotlb") { apply(p) }
    }

    /// Reads one value, e.g. `"65536,4,force"`.
    public init(value: String) {
        acceptsAreas = true
        apply(KernelParameter(name: "swiotlb", value: value))
    }

    private mutating func apply(_ p: KernelParameter) {
        guard let value = p.value else {
            diagnostics.append(.init(.ignored, parameter: p.raw, "ignored: swiotlb needs a value"))
            return
        }
        // Read by Unicode scalar, as the kernel reads bytes: a digit followed by a
        // combining mark is one `Character`, which the parser used to take for a
        // non-digit (found by fuzzing, Fuzz/README.md).
        var s = Substring(value).unicodeScalars
        if let first = s.first, Self.isDigit(first) {
            let (n, rest, overflow) = Self.simpleStrtoul(s)
            s = rest
            let aligned = Self.alignUp(n, Self.segmentSlots)
            if overflow || aligned > Int(Int32.max) {
                diagnostics.append(.init(.ignored, parameter: p.raw, "slot count is too large; ignored"))
            } else {
                if aligned != n {
                    diagnostics.append(.init(.note, parameter: p.raw, "slot count \(n) aligned up to \(aligned) (a multiple of 128)"))
                }
                // 5.x: io_tlb_nslabs = 0 means the default (swiotlb_init (5.4.301, 5.10.265)).
                slabs = !acceptsAreas && aligned == 0 ? nil : aligned
            }
        }
        if s.first == "," { s = s.dropFirst() }
        if acceptsAreas, let first = s.first, Self.isDigit(first) {
            let (n, rest, overflow) = Self.simpleStrtoul(s)
            s = rest
            if overflow || n > 1 << 20 {
                diagnostics.append(.init(.ignored, parameter: p.raw, "area count is too large; ignored"))
            } else {
                let rounded = n == 0 ? 1 : Self.roundUpPowerOfTwo(n)
                if rounded != n {
                    diagnostics.append(.init(.note, parameter: p.raw, "area count \(n) rounded up to \(rounded)"))
                }
                areas = rounded
                // swiotlb_adjust_nareas() -> round_up_default_nslabs(), on the count known now.
                let current = slabs ?? SWIOTLB.defaultSlots
                let adjusted = SWIOTLBConfiguration.roundedSlots(current, areas: rounded)
                if adjusted != current {
                    diagnostics.append(.init(.note, parameter: p.raw, "slot count \(current) rounded up to \(adjusted) for \(rounded) area(s)"))
                    slabs = adjusted
                }
            }
        }
        if acceptsAreas, s.first == "," { s = s.dropFirst() }
        let rest = String(Substring(s))
        if s.elementsEqual("force".unicodeScalars) {
            force = true
            if !acceptsAreas { noforce = false }
        } else if s.elementsEqual("noforce".unicodeScalars) {
            noforce = true
            if !acceptsAreas {
                force = false
                slabs = 1
            }
        } else if !s.isEmpty {
            diagnostics.append(.init(.ignored, parameter: p.raw, "\"\(rest)\" is not understood; Linux ignores it silently"))
        }
    }

    /// The kernel's `isdigit()`: ASCII `0`–`9` only.
    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    /// An ASCII hex digit's value (`hex_to_bin()`); fullwidth and other digits are not digits.
    static func hexValue(_ c: Unicode.Scalar) -> Int? {
        switch c.value {
        case 0x30...0x39: Int(c.value - 0x30)
        case 0x61...0x66: Int(c.value - 0x61 + 10)
        case 0x41...0x46: Int(c.value - 0x41 + 10)
        default: nil
        }
    }

    /// Models `simple_strtoul(s, &end, 0)`: the value, the unread rest, and whether it overflowed.
    static func simpleStrtoul(_ s: Substring.UnicodeScalarView) -> (Int, Substring.UnicodeScalarView, Bool) {
        var base = 10
        var rest = s
        let first = rest.first, second = rest.dropFirst().first, third = rest.dropFirst(2).first
        if first == "0", second == "x" || second == "X", let third, hexValue(third) != nil {
            base = 16
            rest = rest.dropFirst(2)
        } else if first == "0" {
            base = 8
        }
        var value = 0
        var overflow = false
        while let c = rest.first, let d = hexValue(c), d < base {
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (a, o2) = m.addingReportingOverflow(d)
            overflow = overflow || o1 || o2
            value = a
            rest = rest.dropFirst()
        }
        return (value, rest, overflow)
    }

    static func alignUp(_ n: Int, _ a: Int) -> Int { n > Int.max - a ? Int.max : (n + a - 1) / a * a }

    static func roundUpPowerOfTwo(_ n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }
}
