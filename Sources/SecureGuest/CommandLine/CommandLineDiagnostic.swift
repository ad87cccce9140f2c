/// Something worth telling about a kernel command line: a value that was ignored,
/// or a place where the line can be read two ways (prom_init's substring search
/// against the kernel's parameter parser).
public struct CommandLineDiagnostic: Hashable, Sendable, CustomStringConvertible {
    /// How serious it is.
    public enum Kind: String, Hashable, Sendable {
        /// A parameter was ignored (invalid value), as Linux ignores it.
        case ignored
        /// A warning: the line is ambiguous here. prom_init's `prom_strstr()` reads it
        /// one way (and the guest does that), an exact-parameter reading another.
        case ambiguous
        /// Accepted, but worth knowing (e.g. an undocumented spelling).
        case note
    }

    /// The kind.
    public let kind: Kind
    /// The parameter concerned, as written.
    public let parameter: String
    /// What happened and why.
    public let message: String

    /// Makes a diagnostic.
    public init(_ kind: Kind, parameter: String, _ message: String) {
        self.kind = kind
        self.parameter = parameter
        self.message = message
    }

    /// e.g. `svm=maybe: ignored: …`.
    public var description: String { "\(parameter): \(message)" }
}
