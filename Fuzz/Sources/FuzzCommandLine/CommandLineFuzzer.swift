import FuzzSupport
import SVMKit

/// libFuzzer's entry point for the `cmdline` target: the input is a kernel command
/// line (any bytes; ill-formed UTF-8 is repaired, as a `String` from
/// `/chosen/bootargs` would be).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    CommandLineFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// What the `cmdline` target checks, for any text:
///
/// - ``KernelCommandLine``, ``SVMOption``, ``SWIOTLBOption`` and ``KernelBoolean``
///   never crash, and their results are within their documented ranges;
/// - tokenizing the parameters written back (`raw`, joined by spaces, then `--`
///   and the init arguments) gives the same parameters (the tokenizer is stable);
/// - each parser agrees with a byte-level model of the C code it documents:
///   `SVMOption.enabled` with prom_init's `prom_strstr(cmdline, "svm=")` and
///   `prom_strtobool()`; `SWIOTLBOption` with `setup_io_tlb_npages()` (where SVMKit
///   does not deliberately ignore a value too large); and, for ASCII lines (what
///   firmware passes), `KernelCommandLine` with `parse_args()`/`next_arg()`.
enum CommandLineFuzzer {
    static func run(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let line = KernelCommandLine(text)
        fuzzRequire(line.text == text, "text not kept")
        checkTokens(line)
        // The C models read a C string; SVMKit's text may hold NULs, which the
        // kernel would never see past, so the differential checks skip those.
        let cString = !text.utf8.contains(0)
        if cString, text.utf8.allSatisfy({ $0 < 0x80 }) { checkAgainstNextArg(line) }

        let svm = SVMOption(line)
        checkSVM(svm, line, compareWithC: cString)

        let swiotlb = SWIOTLBOption(line)
        checkRanges(swiotlb, "the whole line")
        for p in line.parameters(named: "swiotlb") {
            if let v = p.value { checkAgainstSetupIOTLBNpages(v, compareWithC: cString) }
        }
        checkAgainstSetupIOTLBNpages(text, compareWithC: cString)

        if let b = KernelBoolean.promStrToBool(text) {
            fuzzRequire(b == ModelC.promStrToBool(Array(text.utf8)), "promStrToBool(\(text.debugDescription))")
        }
        _ = KernelBoolean.isDocumented(text)
    }

    // MARK: Tokenizer

    static func checkTokens(_ line: KernelCommandLine) {
        for p in line.parameters {
            fuzzRequire(!p.raw.isEmpty, "an empty parameter in \(line.text.debugDescription)")
            fuzzRequire(p.description == p.raw, "description differs from raw")
            let named = line.parameters(named: p.name)
            fuzzRequire(named.contains(p), "parameters(named: \(p.name.debugDescription)) misses it")
        }
        var rewritten = line.parameters.map(\.raw).joined(separator: " ")
        if let initArgs = line.initArguments { rewritten += " -- " + initArgs }
        let again = KernelCommandLine(rewritten)
        fuzzRequire(again.parameters.map(\.name) == line.parameters.map(\.name)
            && again.parameters.map(\.value) == line.parameters.map(\.value),
            "re-tokenizing \(rewritten.debugDescription) (from \(line.text.debugDescription)) changes the parameters")
        fuzzRequire(again.initArguments == line.initArguments, "re-tokenizing changes the init arguments")
    }

    /// For ASCII without NUL, the tokenizer must split exactly as the kernel does.
    static func checkAgainstNextArg(_ line: KernelCommandLine) {
        let (params, initArgs) = ModelC.parseArgs(Array(line.text.utf8))
        let got = line.parameters.map { ModelC.Param(name: Array($0.name.utf8), value: $0.value.map { Array($0.utf8) }) }
        fuzzRequire(got == params,
            "tokens differ from parse_args()/next_arg() for \(line.text.debugDescription): SVMKit \(got.map(\.text)), kernel \(params.map(\.text))")
        fuzzRequire(line.initArguments.map { Array($0.utf8) } == initArgs,
            "init arguments differ from parse_args() for \(line.text.debugDescription)")
    }

    // MARK: svm=

    static func checkSVM(_ svm: SVMOption, _ line: KernelCommandLine, compareWithC: Bool) {
        let tokens = line.parameters(named: "svm")
        if tokens.isEmpty { fuzzRequire(!svm.parameterReading, "parameterReading on with no svm= parameter") }
        let lastValid = tokens.compactMap { $0.value.flatMap(KernelBoolean.promStrToBool) }.last
        fuzzRequire(svm.parameterReading == (lastValid ?? false), "parameterReading is not the last valid svm= value")
        let linux = ModelC.promInitSVM(Array(line.text.utf8))
        fuzzRequire(!compareWithC || svm.enabled == linux,
            "enabled \(svm.enabled), prom_init's strstr/strtobool gives \(linux) for \(line.text.debugDescription)")
        if svm.enabled != svm.parameterReading {
            fuzzRequire(svm.diagnostics.contains { $0.kind == .ambiguous }, "the readings differ, but no warning says so")
        }
        for d in svm.diagnostics { fuzzRequire(!d.message.isEmpty && !d.description.isEmpty, "an empty diagnostic") }
    }

    // MARK: swiotlb=

    static func checkRanges(_ o: SWIOTLBOption, _ what: String) {
        if let s = o.slabs {
            fuzzRequire(s >= 0 && s % SWIOTLBOption.segmentSlots == 0 && s <= Int(Int32.max), "\(what): slabs \(s)")
        }
        if let a = o.areas { fuzzRequire(a >= 1 && a <= 1 << 20 && a & (a - 1) == 0, "\(what): areas \(a)") }
        for d in o.diagnostics { fuzzRequire(!d.message.isEmpty, "\(what): an empty diagnostic") }
    }

    static func checkAgainstSetupIOTLBNpages(_ value: String, compareWithC: Bool) {
        let o = SWIOTLBOption(value: value)
        checkRanges(o, "swiotlb=\(value.debugDescription)")
        guard compareWithC else { return }
        let m = ModelC.setupIOTLBNpages(Array(value.utf8))
        let what = "swiotlb=\(value.debugDescription)"
        switch m.slabs {
        case nil: fuzzRequire(o.slabs == nil, "\(what): slabs \(o.slabs ?? -1), the kernel sets none")
        case let n? where n <= Int(Int32.max) && !m.slabsOverflow:
            fuzzRequire(o.slabs == n, "\(what): slabs \(o.slabs.map(String.init) ?? "nil"), the kernel reads \(n)")
        default: break  // SVMKit ignores counts too large; the kernel wraps them.
        }
        switch m.areas {
        case nil: fuzzRequire(o.areas == nil, "\(what): areas \(o.areas ?? -1), the kernel sets none")
        case let n? where n <= 1 << 20 && !m.areasOverflow:
            fuzzRequire(o.areas == n, "\(what): areas \(o.areas.map(String.init) ?? "nil"), the kernel reads \(n)")
        default: break
        }
        fuzzRequire(o.forceMode?.rawValue == m.force, "\(what): force mode \(o.forceMode?.rawValue ?? "nil"), the kernel reads \(m.force ?? "nil")")
    }
}

/// Byte-level models of the C functions the command-line parsers document, written
/// from the kernel source the doc comments name (lib/cmdline.c, kernel/params.c,
/// arch/powerpc/kernel/prom_init.c, kernel/dma/swiotlb.c, lib/kstrtox.c), over the
/// UTF-8 bytes the kernel would see.
enum ModelC {
    struct Param: Equatable {
        var name: [UInt8]
        var value: [UInt8]?
        var text: String {
            String(decoding: name, as: UTF8.self) + (value.map { "=" + String(decoding: $0, as: UTF8.self) } ?? "")
        }
    }

    /// The kernel's `isspace()` for ASCII (lib/ctype.c): `\t \n \v \f \r` and space.
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0D).contains(c) }

    /// `parse_args()`'s loop: `skip_spaces()`, then `next_arg()` until the end or a bare `--`.
    static func parseArgs(_ line: [UInt8]) -> ([Param], [UInt8]?) {
        let s = line
        var i = 0
        while i < s.count, isSpace(s[i]) { i += 1 }
        var out: [Param] = []
        while i < s.count {
            let (p, next) = nextArg(s, from: i)
            i = next
            if p.value == nil, p.name == Array("--".utf8) { return (out, Array(s[i...])) }
            out.append(p)
        }
        return (out, nil)
    }

    /// `next_arg()` (lib/cmdline.c), on a NUL-free buffer whose end stands for the NUL.
    static func nextArg(_ a: [UInt8], from startIndex: Int) -> (Param, Int) {
        var base = startIndex
        var inQuote = false, quoted = false
        if a[base] == UInt8(ascii: "\"") {
            base += 1
            inQuote = true
            quoted = true
        }
        var i = 0
        var equals = 0
        while base + i < a.count {
            let c = a[base + i]
            if isSpace(c) && !inQuote { break }
            if equals == 0, c == UInt8(ascii: "=") { equals = i }
            if c == UInt8(ascii: "\"") { inQuote.toggle() }
            i += 1
        }
        // NUL terminators written into the argument, as offsets from base.
        var cuts: Set<Int> = []
        var valueStart: Int? = nil
        if equals != 0 {
            cuts.insert(equals)
            var v = equals + 1
            if base + v < a.count, v < i, a[base + v] == UInt8(ascii: "\"") {
                v += 1
                if a[base + i - 1] == UInt8(ascii: "\"") { cuts.insert(i - 1) }
            }
            valueStart = v
        }
        if quoted, i > 0, !cuts.contains(i - 1), a[base + i - 1] == UInt8(ascii: "\"") { cuts.insert(i - 1) }
        func cString(_ from: Int) -> [UInt8] {
            var out: [UInt8] = []
            var k = from
            while k < i, !cuts.contains(k) {
                out.append(a[base + k])
                k += 1
            }
            return out
        }
        let param = Param(name: cString(0), value: valueStart.map(cString))
        var next = base + i
        if next < a.count { next += 1 }
        while next < a.count, isSpace(a[next]) { next += 1 }
        return (param, next)
    }

    /// prom_init: `prom_strstr(prom_cmd_line, "svm=")`, then `prom_strtobool()` on
    /// what follows; no match or an invalid value leaves secure mode off.
    static func promInitSVM(_ line: [UInt8]) -> Bool {
        let needle = Array("svm=".utf8)
        guard line.count >= needle.count else { return false }
        for start in 0...(line.count - needle.count) where Array(line[start..<start + needle.count]) == needle {
            return promStrToBool(Array(line[(start + needle.count)...])) ?? false
        }
        return false
    }

    /// `prom_strtobool()`.
    static func promStrToBool(_ s: [UInt8]) -> Bool? {
        guard let c = s.first else { return nil }
        switch c {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "1"): return true
        case UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "0"): return false
        case UInt8(ascii: "o"), UInt8(ascii: "O"):
            guard s.count > 1 else { return nil }
            switch s[1] {
            case UInt8(ascii: "n"), UInt8(ascii: "N"): return true
            case UInt8(ascii: "f"), UInt8(ascii: "F"): return false
            default: return nil
            }
        default: return nil
        }
    }

    struct SWIOTLB {
        var slabs: Int?
        var slabsOverflow = false
        var areas: Int?
        var areasOverflow = false
        var force: String?
    }

    /// `setup_io_tlb_npages()` with `simple_strtoul(…, 0)`.
    static func setupIOTLBNpages(_ s: [UInt8]) -> SWIOTLB {
        var m = SWIOTLB()
        var i = 0
        func isDigit(_ k: Int) -> Bool { k < s.count && (0x30...0x39).contains(s[k]) }
        if isDigit(i) {
            let (n, next, o) = simpleStrtoul(s, i)
            i = next
            let (a, o2) = n.addingReportingOverflow(127)
            m.slabs = a / 128 * 128
            m.slabsOverflow = o || o2
        }
        if i < s.count, s[i] == UInt8(ascii: ",") { i += 1 }
        if isDigit(i) {
            let (n, next, o) = simpleStrtoul(s, i)
            i = next
            var p = 1
            while p < n, p <= 1 << 40 { p <<= 1 }
            m.areas = n == 0 ? 1 : p
            m.areasOverflow = o || n > 1 << 40
        }
        if i < s.count, s[i] == UInt8(ascii: ",") { i += 1 }
        let rest = Array(s[i...])
        if rest == Array("force".utf8) { m.force = "force" } else if rest == Array("noforce".utf8) { m.force = "noforce" }
        return m
    }

    /// `simple_strtoul(s, &end, 0)` (`_parse_integer_fixup_radix()` and
    /// `_parse_integer()`): the value, where it stopped, and whether it overflowed.
    static func simpleStrtoul(_ s: [UInt8], _ start: Int) -> (Int, Int, Bool) {
        func at(_ k: Int) -> UInt8 { k < s.count ? s[k] : 0 }
        func digit(_ c: UInt8) -> Int? {
            switch c {
            case 0x30...0x39: Int(c - 0x30)
            case 0x61...0x66: Int(c - 0x61 + 10)
            case 0x41...0x46: Int(c - 0x41 + 10)
            default: nil
            }
        }
        var i = start
        var base = 10
        if at(i) == UInt8(ascii: "0") {
            if at(i + 1) | 0x20 == UInt8(ascii: "x"), digit(at(i + 2)) != nil {
                base = 16
                i += 2
            } else {
                base = 8
            }
        }
        var value = 0
        var overflow = false
        while let d = digit(at(i)), d < base {
            let (m, o1) = value.multipliedReportingOverflow(by: base)
            let (a, o2) = m.addingReportingOverflow(d)
            overflow = overflow || o1 || o2
            value = a
            i += 1
        }
        return (value, i, overflow)
    }
}
