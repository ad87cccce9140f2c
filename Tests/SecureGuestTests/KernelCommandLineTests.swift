import Testing
@testable import SecureGuest

@Suite("Kernel command line: Linux's next_arg() tokenizer")
struct KernelCommandLineTests {
    @Test("Spaces separate, quotes group and are removed, -- ends kernel options")
    func tokenizer() {
        let c = KernelCommandLine("  console=hvc0  root=\"/dev/sda 1\" quiet \"a=b c\" -- svm=on init-arg")
        #expect(c.parameters.map(\.name) == ["console", "root", "quiet", "a"])
        #expect(c.parameters.map(\.value) == ["hvc0", "/dev/sda 1", nil, "b c"])
        #expect(c.initArguments == "svm=on init-arg")
        #expect(c.parameters(named: "svm").isEmpty)
    }

    @Test("Dashes and underscores in names are the same parameter (parameq)")
    func dashes() {
        let c = KernelCommandLine("foo-bar=1 foo_bar=2")
        #expect(c.parameters(named: "foo_bar").map(\.value) == ["1", "2"])
    }

    @Test("Empty and space-only lines have no parameters")
    func empty() {
        #expect(KernelCommandLine("").parameters.isEmpty)
        #expect(KernelCommandLine("   ").parameters.isEmpty)
        #expect(KernelCommandLine("x=").parameters.first?.value == "")
    }
}

/// The guest decides `svm=` as prom_init does (`arch/powerpc/kernel/prom_init.c:
/// early_cmdline_parse, prom_strstr, prom_strtobool (6.12)`): first substring match,
/// invalid → default off. The exact-parameter reading only produces warnings. These
/// tests used to expect SVMKit's own reading (last exact token wins) to decide; they
/// now expect prom_init's decision and a warning naming the ambiguity (issue 15 item 6).
@Suite("svm= as prom_init reads it, and the ambiguities SVMKit warns about")
struct SVMOptionTests {
    @Test("Documented spellings, any case (prom_strtobool)", arguments: [
        ("svm=on", true), ("svm=off", false), ("svm=y", true), ("svm=n", false), ("svm=1", true), ("svm=0", false),
        ("svm=ON", true), ("svm=Off", false), ("svm=Y", true), ("svm=N", false),
    ])
    func documented(line: String, expected: Bool) {
        let o = SVMOption(KernelCommandLine(line + " console=hvc0"))
        #expect(o.enabled == expected)
        #expect(o.parameterReading == expected)
        #expect(o.diagnostics.isEmpty)
    }

    @Test("Default is off, with no diagnostics")
    func defaultOff() {
        let o = SVMOption(KernelCommandLine("console=hvc0"))
        #expect(!o.enabled && !o.parameterReading && o.diagnostics.isEmpty)
    }

    @Test("prom_init takes the first svm=; the last-wins reading is a warning")
    func firstWins() {
        let o = SVMOption(KernelCommandLine("svm=off svm=on"))
        #expect(!o.enabled)
        #expect(o.parameterReading)
        #expect(o.diagnostics.contains { $0.kind == .ambiguous && $0.message.contains("first svm=") })
        #expect(o.diagnostics.contains { $0.message.contains("prom_init boots normal") })
    }

    @Test("An invalid first value leaves the default off, even before a valid one")
    func invalid() {
        let o = SVMOption(KernelCommandLine("svm=maybe svm=on"))
        #expect(!o.enabled)
        #expect(o.diagnostics.contains { $0.kind == .ignored && $0.parameter == "svm=maybe" })
        let t = SVMOption(KernelCommandLine("svm=true"))
        #expect(!t.enabled)
        #expect(t.diagnostics.contains { $0.message.contains("prom_strtobool() does not") })
    }

    @Test("nosvm=1 and xsvm=on switch secure mode on, as prom_strstr() does", arguments: ["nosvm=1", "xsvm=on"])
    func substring(line: String) {
        let o = SVMOption(KernelCommandLine(line))
        #expect(o.enabled)
        #expect(!o.parameterReading)
        #expect(o.diagnostics.contains { $0.kind == .ambiguous && $0.parameter == line })
    }

    @Test("svm= after -- belongs to init, but prom_init sees it and goes secure")
    func afterDoubleDash() {
        let o = SVMOption(KernelCommandLine("console=hvc0 -- svm=on"))
        #expect(o.enabled && !o.parameterReading)
        #expect(o.diagnostics.contains { $0.message.contains("after \"--\"") })
    }

    @Test("Undocumented spellings that prom_strtobool accepts are noted")
    func undocumented() {
        let o = SVMOption(KernelCommandLine("svm=yes"))
        #expect(o.enabled && o.parameterReading)
        #expect(o.diagnostics.map(\.kind) == [.note])
    }

    @Test("A quoted value: prom_strtobool() sees the quote, so prom_init stays normal")
    func quoted() {
        let o = SVMOption(KernelCommandLine("svm=\"on\""))
        #expect(!o.enabled)
        #expect(o.parameterReading)
        #expect(o.diagnostics.contains { $0.kind == .ambiguous })
    }

    @Test("prom_strlen() stops at a NUL: an svm= after it is not seen")
    func stopsAtNUL() {
        let o = SVMOption(KernelCommandLine("console=hvc0\u{0}svm=on"))
        #expect(!o.enabled)
    }
}

@Suite("swiotlb= as setup_io_tlb_npages() reads it")
struct SWIOTLBOptionTests {
    @Test("slabs aligned to 128, areas to a power of two, force/noforce")
    func parse() {
        let o = SWIOTLBOption(value: "40000,3,force")
        #expect(o.slabs == 65536)  // ALIGN(40000, 128) = 40064, then rounded by swiotlb_adjust_nareas(4)
        #expect(o.areas == 4)
        #expect(o.forceMode == .force)
        #expect(o.diagnostics.count == 3)
        #expect(SWIOTLBOption(value: "noforce").forceMode == .noforce)
        #expect(SWIOTLBOption(value: "noforce").slabs == nil)
        #expect(SWIOTLBOption(value: "1024,0").areas == 1)
        #expect(SWIOTLBOption(value: "0x800").slabs == 2048)
        #expect(SWIOTLBOption(value: "010").slabs == 128)
    }

    @Test("force and noforce are two sticky flags: noforce then force stays disabled (audit 1.5)")
    func stickyFlags() {
        let o = SWIOTLBOption(KernelCommandLine("swiotlb=noforce swiotlb=force"))
        #expect(o.force && o.noforce && o.forceMode == .noforce)
        #expect(SWIOTLBOption(KernelCommandLine("swiotlb=force swiotlb=noforce")).forceMode == .noforce)
    }

    @Test("an area count rounds the slot count known at that moment (audit 1.7)")
    func parseTimeRounding() {
        let late = SWIOTLBOption(KernelCommandLine("swiotlb=,4 swiotlb=40000"))
        #expect(late.slabs == 40064 && late.areas == 4)
        #expect(SWIOTLBOption(KernelCommandLine("swiotlb=,4096")).slabs == 524288)
    }

    @Test("Later occurrences override only the fields they set")
    func accumulate() {
        let o = SWIOTLBOption(KernelCommandLine("swiotlb=force swiotlb=65536,8"))
        #expect(o.slabs == 65536 && o.areas == 8 && o.forceMode == .force)
    }

    @Test("Garbage and huge values are reported, never trap", arguments: ["abc", "99999999999999999999999", "128,99999999999", "1,2,3"])
    func garbage(value: String) {
        let o = SWIOTLBOption(value: value)
        #expect(!o.diagnostics.isEmpty)
    }
}
