/// Why a boot could not be set up: the input that was wrong, named.
public struct BootError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The option or file concerned, e.g. `--fdt guest.dtb`.
    public let input: String
    /// What was wrong with it.
    public let reason: String

    /// Makes an error.
    public init(input: String, _ reason: String) {
        self.input = input
        self.reason = reason
    }

    /// e.g. `--kbase 0x0: the kernel base must be non-zero`.
    public var description: String { "\(input): \(reason)" }
}
