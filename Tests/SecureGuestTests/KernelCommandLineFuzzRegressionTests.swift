import Testing

@testable import SecureGuest

/// Inputs the `cmdline` fuzz target (Fuzz/, Scripts/fuzz) found where the parsers
/// disagreed with a byte-level model of the kernel's C. Each test failed before its fix.
@Suite("Kernel command line fuzz regressions")
struct KernelCommandLineFuzzRegressionTests {
    /// `next_arg()` keeps `equals` = 0 to mean "no `=` yet", so an `=` at the very
    /// start of a parameter is part of its name: `=x` is a flag called `=x`, and in
    /// `=a=b` the second `=` separates name `=a` from value `b`.
    @Test("An '=' that opens a parameter belongs to its name, as in next_arg()")
    func leadingEquals() {
        let c = KernelCommandLine("=equals =a=b \"=q\" svm=on")
        #expect(c.parameters.map(\.name) == ["=equals", "=a", "=q", "svm"])
        #expect(c.parameters.map(\.value) == [nil, "b", nil, "on"])
    }

    /// A line that starts with `\r`, `\v` or `\f`: `parse_args()` skips every
    /// `isspace()` character first, but SVMKit skipped only space, tab and newline
    /// and then read an empty parameter.
    @Test("Leading \\r, \\v and \\f are skipped like spaces")
    func leadingCarriageReturn() {
        for lead in ["\r", "\u{0B}", "\u{0C}", " \r\n\t"] {
            let c = KernelCommandLine(lead + "svm=on")
            #expect(c.parameters.map(\.raw) == ["svm=on"], "\(lead.debugDescription)")
        }
    }

    /// A combining mark after a space: by `Character` the space and the mark are one
    /// grapheme, so the tokenizer used to swallow the mark with the separator, and
    /// writing the parameters back and splitting again lost one. The kernel reads
    /// bytes; SVMKit now reads Unicode scalars.
    @Test("A combining mark after a space starts a parameter")
    func combiningMarkAfterSpace() {
        let c = KernelCommandLine("=equalroo1l \u{06E3} svm=on")
        #expect(c.parameters.map(\.raw) == ["=equalroo1l", "\u{06E3}", "svm=on"])
        let again = KernelCommandLine(c.parameters.map(\.raw).joined(separator: " "))
        #expect(again.parameters == c.parameters)
    }
}

/// `swiotlb=` values the fuzz target found read differently from
/// `setup_io_tlb_npages()` and `simple_strtoul()`.
@Suite("swiotlb= fuzz regressions")
struct SWIOTLBOptionFuzzRegressionTests {
    /// A digit followed by a combining mark is one `Character`, which the parser took
    /// for a non-digit and stopped at (655 read as 65); the kernel reads bytes and
    /// stops only at the mark. Fullwidth digits, which `Character.hexDigitValue`
    /// accepts, are no digits to the kernel.
    @Test("Digits are ASCII scalars, as the kernel reads them")
    func digitsAreASCIIScalars() {
        #expect(SWIOTLBOption(value: "655\u{065A}t37,3").slabs == 768)
        #expect(SWIOTLBOption(value: "1\u{FF12}9").slabs == 128)  // "1", then a fullwidth 2: stops at 1
        #expect(SWIOTLBOption(value: "0x\u{FF11}0").slabs == 0)  // no hex digit after 0x: octal 0
        #expect(SWIOTLBOption(value: "1\u{301},2,force").slabs == 128)
    }
}

/// `svm=` lines the fuzz target found read differently from prom_init.
@Suite("svm= fuzz regressions")
struct SVMOptionFuzzRegressionTests {
    /// prom_init's `prom_strstr(cmdline, "svm=")` finds the first four bytes
    /// `svm=`; a search by `Character` skipped an `svm=` whose `=` a combining mark
    /// (U+0485) follows, and read a later `svm=on`.
    @Test("prom_init's reading finds the first svm= bytes, even before a combining mark")
    func combiningMarkAfterEquals() {
        let o = SVMOption(KernelCommandLine("svm=\u{0485}x svm=on"))
        #expect(!o.enabled)
        #expect(o.parameterReading)
        #expect(o.diagnostics.contains { $0.kind == .ambiguous && $0.message.contains("prom_init boots normal") })
    }
}
