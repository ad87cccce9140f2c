/// The `svm=` kernel parameter: whether the guest asks to become a Secure VM.
///
/// Models the `CONFIG_PPC_SVM` part of prom_init's `early_cmdline_parse()`
/// (`arch/powerpc/kernel/prom_init.c`; reference/linux-guest-facts.md §1.1). The
/// default is off. SVMKit reads exact `svm=` tokens with the kernel tokenizer
/// (``KernelCommandLine``) and, as `parse_args()` does for ordinary parameters, the
/// last valid one wins. prom_init instead runs `prom_strstr(cmdline, "svm=")`: the
/// FIRST occurrence of the four characters anywhere in the line, so `nosvm=1`,
/// `xsvm=on`, a quoted value or text after `--` can switch secure mode on in Linux.
/// Every such difference is reported in ``diagnostics``.
public struct SVMOption: Hashable, Sendable {
    /// SVMKit's reading: ask the Ultravisor to enter secure mode.
    public let enabled: Bool
    /// What Linux's prom_init would decide for the same line.
    public let promInitEnabled: Bool
    /// Ignored values and every place where Linux would differ.
    public let diagnostics: [CommandLineDiagnostic]

    /// Reads `svm=` from a command line.
    public init(_ commandLine: KernelCommandLine) {
        var diags: [CommandLineDiagnostic] = []
        let tokens = commandLine.parameters(named: "svm")
        var enabled = false
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
            enabled = b
            effective = token
        }

        // Linux: the first "svm=" substring anywhere in the raw line, found in its
        // bytes as prom_strstr() does (a search by `Character` missed an `=` that a
        // combining mark follows: found by fuzzing, Fuzz/README.md).
        let bytes = Array(commandLine.text.utf8)
        let needle = Array("svm=".utf8)
        var linux = false
        if let at = bytes.indices.first(where: { bytes[$0...].starts(with: needle) }) {
            let after = String(decoding: bytes[(at + needle.count)...], as: UTF8.self)
            linux = KernelBoolean.promStrToBool(after) ?? false
            func isBlank(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
            let tokenStart = bytes[..<at].lastIndex(where: isBlank).map { $0 + 1 } ?? 0
            let tokenText = String(decoding: bytes[tokenStart...].prefix { !isBlank($0) }, as: UTF8.self)
            if tokenText != tokens.first?.raw {
                let reading = KernelBoolean.promStrToBool(after).map { $0 ? "on" : "off" } ?? "invalid, so off"
                diags.append(.init(.linuxDiffers, parameter: tokenText,
                    "prom_init finds \"svm=\" by substring search and would read it here (\(reading)); SVMKit reads only exact svm= parameters"))
            }
        }
        if tokens.count > 1 {
            diags.append(.init(.linuxDiffers, parameter: tokens.map(\.raw).joined(separator: " "),
                "prom_init uses the first svm= in the line; SVMKit, like parse_args(), lets the last valid one win (\(effective?.raw ?? "none valid"))"))
        }
        if let initArgs = commandLine.initArguments, initArgs.contains("svm=") {
            diags.append(.init(.linuxDiffers, parameter: "-- \(initArgs)",
                "text after \"--\" belongs to init, but prom_init's substring search still sees its svm="))
        }
        if let quoted = tokens.first(where: { $0.raw.contains("\"") }) {
            diags.append(.init(.note, parameter: quoted.raw,
                "quotes are removed by the kernel tokenizer; prom_init's prom_strtobool() would see the quote character first and read the value as invalid"))
        }
        if linux != enabled {
            diags.append(.init(.linuxDiffers, parameter: "svm",
                "Linux would boot \(linux ? "secure" : "normal"); SVMKit boots \(enabled ? "secure" : "normal")"))
        }
        self.enabled = enabled
        self.promInitEnabled = linux
        self.diagnostics = diags
    }
}
