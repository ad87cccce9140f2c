/// The `swiotlb=` kernel parameter: `<slabs>[,<areas>][,force|noforce]`.
///
/// Models `setup_io_tlb_npages()` in `kernel/dma/swiotlb.c`
/// (reference/linux-guest-facts.md §2.7): the slot count is aligned up to 128
/// (`IO_TLB_SEGSIZE`); the area count is rounded up to a power of two, 0 meaning 1
/// (`swiotlb_adjust_nareas()`); `force` bounces every mapping and `noforce` turns
/// SWIOTLB off. Numbers are read like `simple_strtoul(…, 0)` (decimal, `0x` hex,
/// leading-0 octal). Every occurrence is applied in order, so a later one
/// overrides the fields it sets. Parts Linux silently ignores are reported.
public struct SWIOTLBOption: Hashable, Sendable {
    /// Force mode requested.
    public enum ForceMode: String, Hashable, Sendable {
        /// `force`: bounce every mapping.
        case force
        /// `noforce`: disable SWIOTLB.
        case noforce
    }

    /// Number of 2 KiB slots asked for, aligned up to 128; `nil` if not given.
    public private(set) var slabs: Int?
    /// Number of areas asked for, rounded up to a power of two; `nil` if not given.
    public private(set) var areas: Int?
    /// `force` or `noforce`, if given.
    public private(set) var forceMode: ForceMode?
    /// Ignored parts and round-ups.
    public private(set) var diagnostics: [CommandLineDiagnostic] = []

    /// `IO_TLB_SEGSIZE`: slots per segment.
    public static let segmentSlots = 128

    /// Reads every `swiotlb=` of a command line.
    public init(_ commandLine: KernelCommandLine) {
        for p in commandLine.parameters(named: "swiotlb") { apply(p) }
    }

    /// Reads one value, e.g. `"65536,4,force"`.
    public init(value: String) {
        apply(KernelParameter(name: "swiotlb", value: value))
    }

    private mutating func apply(_ p: KernelParameter) {
        guard let value = p.value else {
            diagnostics.append(.init(.ignored, parameter: p.raw, "ignored: swiotlb needs a value"))
            return
        }
        var s = Substring(value)
        if let first = s.first, first.isASCII, first.isNumber {
            let (n, rest, overflow) = Self.simpleStrtoul(s)
            s = rest
            let aligned = Self.alignUp(n, Self.segmentSlots)
            if overflow || aligned > Int(Int32.max) {
                diagnostics.append(.init(.ignored, parameter: p.raw, "slot count is too large; ignored"))
            } else {
                if aligned != n {
                    diagnostics.append(.init(.note, parameter: p.raw, "slot count \(n) aligned up to \(aligned) (a multiple of 128)"))
                }
                slabs = aligned
            }
        }
        if s.first == "," { s = s.dropFirst() }
        if let first = s.first, first.isASCII, first.isNumber {
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
            }
        }
        if s.first == "," { s = s.dropFirst() }
        if s == "force" {
            forceMode = .force
        } else if s == "noforce" {
            forceMode = .noforce
        } else if !s.isEmpty {
            diagnostics.append(.init(.ignored, parameter: p.raw, "\"\(s)\" is not understood; Linux ignores it silently"))
        }
    }

    /// Models `simple_strtoul(s, &end, 0)`: the value, the unread rest, and whether it overflowed.
    static func simpleStrtoul(_ s: Substring) -> (Int, Substring, Bool) {
        var base = 10
        var rest = s
        if rest.hasPrefix("0x") || rest.hasPrefix("0X"), let c = rest.dropFirst(2).first, c.isHexDigit {
            base = 16
            rest = rest.dropFirst(2)
        } else if rest.hasPrefix("0"), rest.count > 1 {
            base = 8
        }
        var value = 0
        var overflow = false
        while let c = rest.first, let d = c.hexDigitValue, d < base {
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
