/// The `svm=` kernel parameter: whether the guest asks to become a Secure VM.
///
/// Models the `CONFIG_PPC_SVM` part of prom_init's `early_cmdline_parse()`
/// (`arch/powerpc/kernel/prom_init.c: early_cmdline_parse, prom_strstr,
/// prom_strtobool (6.1, 6.12)`; reference/linux-guest-facts.md §1.1). The default is
/// off. Linux decides with `prom_strstr(prom_cmd_line, "svm=")`: the FIRST occurrence
/// of the four bytes anywhere in the line (up to its first NUL, as `prom_strlen()`
/// stops there), and `prom_strtobool()` on what follows; an invalid value leaves the
/// default. ``enabled`` is that decision, and prom_init acts on it.
///
/// So `nosvm=1`, `xsvm=on` or an `svm=` after `--` switch secure mode on, a quoted
/// `svm="on"` does not, and in `svm=off svm=on` the first one wins. SVMKit also reads
/// the line the way the kernel's own parameter parser would (exact `svm=` parameters
/// with ``KernelCommandLine``, quotes removed, the last valid one winning, as
/// `parse_args()` does): ``parameterReading``. Wherever the two readings could differ,
/// ``diagnostics`` holds a warning that names the ambiguity; the guest still does what
/// prom_init does.
public struct SVMOption: Hashable, Sendable {
    /// prom_init's decision: ask the Ultravisor to enter secure mode.
    public let enabled: Bool
    /// What an exact-parameter reading (`parse_args()`, last valid `svm=` wins) would
    /// decide; SVMKit only warns when it differs from ``enabled``.
    public let parameterReading: Bool
    /// Ignored values, undocumented spellings, and every ambiguity in the line.
    public let diagnostics: [CommandLineDiagnostic]

    /// Reads `svm=` from a command line.
    public init(_ commandLine: KernelCommandLine) {
        var diags: [CommandLineDiagnostic] = []
        let tokens = commandLine.parameters(named: "svm")
        var reading = false
        var effective: KernelParameter? = nil
        for token in tokens {
            guard let value = token.value else {
                diags.append(.init(.ignored, parameter: token.raw, "ignored: svm needs a value (on/off, y/n, 1/0)"))
                continue
            }
            guard let b = KernelBoolean.promStrToBool(value) else {
                var why = "ignored: \"\(value)\" is not a boolean (on/off, y/n, 1/0)"
                if let f = value.first, "tTfF".contains(f) {
                    why += "; newer kstrtobool() takes t/f, but prom_init's prom_strtobool() does not"
                }
                diags.append(.init(.ignored, parameter: token.raw, why))
                continue
            }
            if !KernelBoolean.isDocumented(value) {
                diags.append(.init(.note, parameter: token.raw,
                    "\"\(value)\" is not a documented spelling; prom_strtobool() reads only its first character(s) and takes it as \(b ? "on" : "off")"))
            }
            reading = b
            effective = token
        }

        // prom_init: prom_strstr() over the C string (up to the first NUL), by bytes
        // (a search by `Character` missed an `=` that a combining mark follows: found
        // by fuzzing, Fuzz/README.md), then prom_strtobool() on what follows.
        let bytes = Array(commandLine.text.utf8.prefix { $0 != 0 })
        let needle = Array("svm=".utf8)
        var linux = false
        if let at = bytes.indices.first(where: { bytes[$0...].starts(with: needle) }) {
            let after = String(decoding: bytes[(at + needle.count)...], as: UTF8.self)
            linux = KernelBoolean.promStrToBool(after) ?? false
            func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
            let tokenStart = bytes[..<at].lastIndex(where: isBlank).map { $0 + 1 } ?? 0
            let tokenText = String(decoding: bytes[tokenStart...].prefix { !isBlank($0) }, as: UTF8.self)
            if tokenText != tokens.first?.raw {
                let value = KernelBoolean.promStrToBool(after).map { $0 ? "on" : "off" } ?? "invalid, so off"
                diags.append(.init(.ambiguous, parameter: tokenText,
                    "prom_init's prom_strstr() finds \"svm=\" here, inside another parameter, and reads it (\(value)); an exact svm= parameter would not match"))
            }
        }
        if tokens.count > 1 {
            diags.append(.init(.ambiguous, parameter: tokens.map(\.raw).joined(separator: " "),
                "prom_init acts on the first svm= only; a parse_args()-style reading would let the last valid one win (\(effective?.raw ?? "none valid"))"))
        }
        if let initArgs = commandLine.initArguments, initArgs.contains("svm=") {
            diags.append(.init(.ambiguous, parameter: "-- \(initArgs)",
                "text after \"--\" belongs to init, but prom_init's substring search still sees its svm="))
        }
        if let quoted = tokens.first(where: { $0.raw.contains("\"") }) {
            diags.append(.init(.ambiguous, parameter: quoted.raw,
                "prom_strtobool() sees the quote character first and reads the value as invalid; the kernel tokenizer would remove the quotes"))
        }
        if linux != reading {
            diags.append(.init(.ambiguous, parameter: "svm",
                "prom_init boots \(linux ? "secure" : "normal"); reading exact svm= parameters would boot \(reading ? "secure" : "normal")"))
        }
        self.enabled = linux
        self.parameterReading = reading
        self.diagnostics = diags
    }
}
