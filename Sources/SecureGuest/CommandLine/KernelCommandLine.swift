/// A kernel command line split the way Linux splits it.
///
/// Models `next_arg()` in `lib/cmdline.c` and the loop of `parse_args()` in
/// `kernel/params.c`: parameters are separated by spaces; double quotes group
/// spaces into one parameter and are removed (`a="b c"` gives `a` = `b c`); a
/// bare `--` ends the kernel's parameters and everything after it belongs to init
/// (reference/linux-guest-facts.md §1.1 for where prom_init reads it from).
public struct KernelCommandLine: Hashable, Sendable {
    /// The text as given (from `/chosen/bootargs`, without its NUL).
    public let text: String
    /// The kernel's parameters, in order.
    public let parameters: [KernelParameter]
    /// What follows a bare `--` (handed to init), or `nil` if there is no `--`.
    public let initArguments: String?

    /// `COMMAND_LINE_SIZE` on powerpc: prom_init copies at most 2047 bytes of bootargs.
    public static let maximumLength = 2048

    /// Splits `text`.
    ///
    /// The line is read one Unicode scalar at a time, as the kernel reads bytes:
    /// reading by `Character` merged a space with a combining mark after it into one
    /// grapheme, which swallowed the mark (found by fuzzing, Fuzz/README.md).
    public init(_ text: String) {
        self.text = text
        let scalars = Array(text.unicodeScalars)
        var params: [KernelParameter] = []
        // parse_args() starts with skip_spaces(): every isspace() character, the
        // same set next_arg() stops at (\v, \f and \r too).
        var i = Self.skipSpaces(scalars, from: 0)
        var initArgs: String? = nil
        while i < scalars.count {
            let (param, next) = Self.nextArgument(scalars, from: i)
            if param.value == nil && param.name == "--" {
                initArgs = Self.string(scalars[next...])
                break
            }
            params.append(param)
            i = next
        }
        parameters = params
        initArguments = initArgs
    }

    /// The parameters called `name`, in order. Linux treats `-` and `_` in
    /// parameter names alike (`parameq()`), and so does this lookup.
    public func parameters(named name: String) -> [KernelParameter] {
        let key = Self.normalized(name)
        return parameters.filter { Self.normalized($0.name) == key }
    }

    static func normalized(_ name: String) -> String { String(name.map { $0 == "-" ? "_" : $0 }) }

    /// The kernel's `isspace()` (lib/ctype.c) on ASCII: `\t \n \v \f \r` and space.
    /// (Its table also marks the byte 0xA0, which in UTF-8 text only occurs inside
    /// a multi-byte character; SVMKit does not split there.)
    static func isSpace(_ c: Unicode.Scalar) -> Bool { c == " " || (0x09...0x0D).contains(c.value) }

    /// Models `skip_spaces()`: the first index at or after `index` that is not a space.
    static func skipSpaces(_ scalars: [Unicode.Scalar], from index: Int) -> Int {
        var i = index
        while i < scalars.count && isSpace(scalars[i]) { i += 1 }
        return i
    }

    /// The text of some scalars.
    static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Models `next_arg()`: one parameter starting at `base`, and the index after it
    /// with the following spaces skipped.
    static func nextArgument(_ chars: [Unicode.Scalar], from base: Int) -> (KernelParameter, Int) {
        var quoted = false
        var inQuote = false
        var start = base
        if start < chars.count && chars[start] == "\"" {
            start += 1
            inQuote = true
            quoted = true
        }
        var i = start
        var equals: Int? = nil
        while i < chars.count {
            let c = chars[i]
            if isSpace(c) && !inQuote { break }
            // next_arg() keeps `equals` = 0 for "not found", so an `=` that opens
            // the parameter is part of its name (`=x` is a flag named `=x`).
            if equals == nil && c == "=" && i != start { equals = i }
            if c == "\"" { inQuote.toggle() }
            i += 1
        }
        let end = i
        // Strip quotes as next_arg() does: a value's leading quote and the arg's trailing quote.
        var name: String
        var value: String?
        var lastIncluded = end  // exclusive
        if let eq = equals {
            name = string(chars[start..<eq])
            var valueStart = eq + 1
            if valueStart < end && chars[valueStart] == "\"" {
                valueStart += 1
                if end > base && chars[end - 1] == "\"" && end - 1 >= valueStart { lastIncluded = end - 1 }
            }
            if quoted && end > base && chars[end - 1] == "\"" && end - 1 >= valueStart { lastIncluded = end - 1 }
            value = valueStart <= lastIncluded ? string(chars[valueStart..<lastIncluded]) : ""
        } else {
            if quoted && end > start && chars[end - 1] == "\"" { lastIncluded = end - 1 }
            name = start <= lastIncluded ? string(chars[start..<lastIncluded]) : ""
            value = nil
        }
        let raw = string(chars[base..<end])
        let next = skipSpaces(chars, from: end < chars.count ? end + 1 : end)
        return (KernelParameter(name: name, value: value, raw: raw), next)
    }
}

/// One kernel parameter: `name` or `name=value`.
public struct KernelParameter: Hashable, Sendable, CustomStringConvertible {
    /// The name, e.g. `svm`.
    public let name: String
    /// The value with its quotes removed, or `nil` for a bare flag.
    public let value: String?
    /// The parameter as written, quotes included.
    public let raw: String

    /// Makes a parameter.
    public init(name: String, value: String?, raw: String? = nil) {
        self.name = name
        self.value = value
        self.raw = raw ?? (value.map { "\(name)=\($0)" } ?? name)
    }

    /// The parameter as written.
    public var description: String { raw }
}
