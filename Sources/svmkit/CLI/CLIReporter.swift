import Foundation
import Synchronization

/// The one way `svmkit` writes to standard output and standard error, and leaves.
///
/// Foundation's `FileHandle.write(_:)` and `print` either trap on an I/O error or lose
/// it; this reporter writes with `write(2)` and remembers the first error instead:
///
/// - a closed or failing standard error is tolerated (a message that cannot be shown
///   is dropped; there is nowhere else to say it);
/// - output lost on standard output (a full device, a closed descriptor, a broken
///   pipe) makes ``finish(_:)`` exit 1 (or keep a failure code already chosen) with the
///   cause on standard error, never a silent 0.
///
/// ``prepare()`` runs first: it ignores `SIGPIPE` and `SIGXFSZ` (so a closed pipe or a
/// file-size limit becomes an error code, not a signal) and puts `/dev/null` on any of
/// descriptors 0, 1, 2 that is closed, so a file opened later cannot take their number.
enum CLIReporter {
    /// What is known about the three standard descriptors.
    struct State {
        /// Descriptors that were closed when `svmkit` started.
        var closedAtStart: Set<Int32> = []
        /// The first `errno` of a failed write to standard output.
        var standardOutputError: Int32?
    }

    static let state = Mutex(State())

    /// Standard input, output and error.
    static let standardInput: Int32 = 0, standardOutput: Int32 = 1, standardError: Int32 = 2

    /// Call once, before anything is read or written.
    static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGXFSZ, SIG_IGN)
        var closed: Set<Int32> = []
        for fd in [standardInput, standardOutput, standardError] where fcntl(fd, F_GETFD) == -1 {
            closed.insert(fd)
            let null = open("/dev/null", fd == standardInput ? O_RDONLY : O_WRONLY)
            if null >= 0, null != fd {
                _ = dup2(null, fd)
                _ = close(null)
            }
        }
        state.withLock { $0.closedAtStart = closed }
    }

    /// Whether `fd` was closed when `svmkit` started.
    static func wasClosed(_ fd: Int32) -> Bool { state.withLock { $0.closedAtStart.contains(fd) } }

    /// Writes `text` to standard output.
    static func out(_ text: String) { out(Array(text.utf8)) }

    /// Writes `bytes` to standard output; a failure is remembered for ``finish(_:)``.
    static func out(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let failed = state.withLock { s -> Bool in
            if s.standardOutputError != nil { return true }
            if s.closedAtStart.contains(standardOutput) {
                s.standardOutputError = EBADF
                return true
            }
            return false
        }
        if failed { return }
        if let error = writeAll(standardOutput, bytes) {
            state.withLock { if $0.standardOutputError == nil { $0.standardOutputError = error } }
        }
    }

    /// Writes `text` to standard error; a failure is ignored (there is nowhere to report it).
    static func err(_ text: String) {
        guard !wasClosed(standardError) else { return }
        _ = writeAll(standardError, Array(text.utf8))
    }

    /// Whether a progress line may be drawn: standard error is a terminal and the
    /// output is not machine-readable.
    static func progressAllowed(json: Bool) -> Bool { !json && isatty(standardError) == 1 }

    /// Shows `line` as the current progress line on a terminal (stderr; overwritten by
    /// the next one), or nothing when ``progressAllowed(json:)`` is false.
    static func progress(_ line: String, json: Bool) {
        guard progressAllowed(json: json) else { return }
        err("\r\u{1B}[K" + line)
    }

    /// Clears the progress line.
    static func endProgress(json: Bool) {
        guard progressAllowed(json: json) else { return }
        err("\r\u{1B}[K")
    }

    /// The status to exit with: `code`, or 1 when output was lost and `code` was 0; says
    /// why on standard error.
    static func finalStatus(_ code: Int32) -> Int32 {
        guard let error = state.withLock({ $0.standardOutputError }) else { return code }
        let why = wasClosed(standardOutput) ? "standard output is closed" : String(cString: strerror(error))
        err("svmkit: output lost: standard output: \(why)\n")
        return code == 0 ? 1 : code
    }

    /// Leaves with ``finalStatus(_:)``.
    static func finish(_ code: Int32) -> Never {
        exit(finalStatus(code))
    }

    /// `write(2)` until done; the `errno` of a failure, else nil.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBytes { raw -> Int32? in
            guard let base = raw.baseAddress else { return nil }
            var done = 0
            while done < raw.count {
                let n = write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if n == 0 { return EIO }
                done += n
            }
            return nil
        }
    }
}
