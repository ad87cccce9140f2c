/// The guest kernel's log (`printk`), with timestamps in simulated seconds as
/// `dmesg` shows them: `[    0.000123] Switching to secure mode.`
public struct KernelLog: Hashable, Sendable {
    /// One line.
    public struct Line: Hashable, Sendable, CustomStringConvertible {
        /// Simulated time in seconds since the machine started.
        public let time: Double
        /// The message, without a trailing newline.
        public let message: String

        /// The dmesg form.
        public var description: String {
            let micros = Int((time * 1_000_000).rounded())
            let secs = String(micros / 1_000_000)
            let frac = String(micros % 1_000_000)
            let paddedSecs = String(repeating: " ", count: max(0, 5 - secs.count)) + secs
            let paddedFrac = String(repeating: "0", count: max(0, 6 - frac.count)) + frac
            return "[\(paddedSecs).\(paddedFrac)] \(message)"
        }
    }

    /// Lines in order.
    public private(set) var lines: [Line] = []

    /// An empty log.
    public init() {}

    /// Appends a message (one line per `\n`-separated part).
    public mutating func print(_ message: String, at time: Double) {
        for part in message.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(Line(time: time, message: String(part)))
        }
    }

    /// Whether some line contains `text`.
    public func contains(_ text: String) -> Bool { lines.contains { $0.message.contains(text) } }

    /// The whole log as dmesg prints it.
    public var text: String { lines.map(\.description).joined(separator: "\n") }
}
