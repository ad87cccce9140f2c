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
    public init(_ text: String) {
        self.text = text
        var params: [KernelParameter] = []
        var rest = Substring(text).drop { $0 == " " || $0 == "\t" || $0 == "\n" }
        var initArgs: String? = nil
        while !rest.isEmpty {
            let (param, next) = Self.nextArgument(rest)
            if param.value == nil && param.name == "--" {
                initArgs = String(next)
                break
            }
            params.append(param)
            rest = next
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

    /// Models `next_arg()`: one parameter off the front, and the rest with
    /// leading spaces skipped.
    static func nextArgument(_ args: Substring) -> (KernelParameter, Substring) {
        var chars = Array(args)
        var quoted = false
        var inQuote = false
        var start = 0
        if chars.first == "\"" {
            start = 1
            inQuote = true
            quoted = true
        }
        var i = start
        var equals: Int? = nil
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace && !inQuote { break }
            if equals == nil && c == "=" { equals = i }
            if c == "\"" { inQuote.toggle() }
            i += 1
        }
        let end = i
        // Strip quotes as next_arg() does: a value's leading quote and the arg's trailing quote.
        var name: String
        var value: String?
        var lastIncluded = end  // exclusive
        if let eq = equals {
            name = String(chars[start..<eq])
            var valueStart = eq + 1
            if valueStart < end && chars[valueStart] == "\"" {
                valueStart += 1
                if end > 0 && chars[end - 1] == "\"" && end - 1 >= valueStart { lastIncluded = end - 1 }
            }
            if quoted && end > 0 && chars[end - 1] == "\"" && end - 1 >= valueStart { lastIncluded = end - 1 }
            value = valueStart <= lastIncluded ? String(chars[valueStart..<lastIncluded]) : ""
        } else {
            if quoted && end > start && chars[end - 1] == "\"" { lastIncluded = end - 1 }
            name = start <= lastIncluded ? String(chars[start..<lastIncluded]) : ""
            value = nil
        }
        let raw = String(chars[0..<end])
        var nextIndex = end < chars.count ? end + 1 : end
        while nextIndex < chars.count && chars[nextIndex].isWhitespace { nextIndex += 1 }
        chars.removeFirst(nextIndex)
        return (KernelParameter(name: name, value: value, raw: raw), Substring(String(chars)))
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
