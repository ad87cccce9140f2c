/// Boolean parameter values as prom_init reads them.
///
/// Models `prom_strtobool()` in `arch/powerpc/kernel/prom_init.c`, a copy of the
/// original `kstrtobool()`: only the first character counts (`y`/`Y`/`1` true,
/// `n`/`N`/`0` false), except `o`/`O`, where the second decides (`on`, `off`).
/// The admin guide documents `on | off | y | n | 1 | 0` for `svm=`
/// (reference/linux-guest-facts.md §1.1). Later `kstrtobool()` versions also take
/// `t`/`f` (and `true`/`false`); prom_init's copy does not.
public enum KernelBoolean {
    /// The spellings the admin guide documents for `svm=`.
    public static let documentedSpellings: Set<String> = ["on", "off", "y", "n", "1", "0"]

    /// The value prom_init would read from `text`, or `nil` where it returns -EINVAL.
    public static func promStrToBool(_ text: String) -> Bool? {
        let c = Array(text.utf8)
        guard let first = c.first else { return nil }
        switch first {
        case UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "1"): return true
        case UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "0"): return false
        case UInt8(ascii: "o"), UInt8(ascii: "O"):
            guard c.count > 1 else { return nil }
            switch c[1] {
            case UInt8(ascii: "n"), UInt8(ascii: "N"): return true
            case UInt8(ascii: "f"), UInt8(ascii: "F"): return false
            default: return nil
            }
        default: return nil
        }
    }

    /// Whether `text` is one of the documented spellings, ignoring case.
    public static func isDocumented(_ text: String) -> Bool { documentedSpellings.contains(text.lowercased()) }
}
