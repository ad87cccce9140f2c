/// The guest kernel's log (`printk`), with timestamps in simulated seconds as
/// `dmesg` shows them: `[    0.000123] Switching to secure mode.`
///
/// Bounded, as the kernel's log ring buffer is (`__log_buf`, 2^`CONFIG_LOG_BUF_SHIFT`
/// bytes): when the messages kept exceed ``capacityBytes`` the oldest are dropped and
/// counted in ``droppedLines``. The log is carried across kexecs, so without the bound
/// a long soak re-rendered an ever longer log for every report.
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

    /// The default bound on the message bytes kept: 256 KiB.
    public static let defaultCapacityBytes = 256 << 10

    /// Lines in order (the newest ones, when older ones were dropped).
    public private(set) var lines: [Line] = []
    /// How many of the oldest lines were dropped to stay within ``capacityBytes``.
    public private(set) var droppedLines = 0
    /// The most message bytes kept (each line counts its UTF-8 length plus one).
    public let capacityBytes: Int
    private var keptBytes = 0

    /// An empty log keeping at most `capacityBytes` of messages (at least one line is
    /// always kept).
    public init(capacityBytes: Int = KernelLog.defaultCapacityBytes) {
        self.capacityBytes = max(1, capacityBytes)
    }

    /// Appends a message (one line per `\n`-separated part), dropping the oldest
    /// lines when the log outgrows ``capacityBytes``.
    public mutating func print(_ message: String, at time: Double) {
        for part in message.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(Line(time: time, message: String(part)))
            keptBytes += part.utf8.count + 1
        }
        guard keptBytes > capacityBytes else { return }
        // Drop down to three quarters of the capacity at once, so appending stays
        // amortized O(1) even though dropping shifts the array.
        var drop = 0
        while drop < lines.count - 1, keptBytes > capacityBytes * 3 / 4 {
            keptBytes -= lines[drop].message.utf8.count + 1
            drop += 1
        }
        lines.removeFirst(drop)
        droppedLines += drop
    }

    /// Whether some line contains `text`.
    public func contains(_ text: String) -> Bool { lines.contains { $0.message.contains(text) } }

    /// The whole log as dmesg prints it.
    public var text: String { lines.map(\.description).joined(separator: "\n") }
}
