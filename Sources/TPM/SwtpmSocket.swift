#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One TCP connection to swtpm: the audited place where SVMKit's TPM code uses POSIX
/// sockets. Every wait is bounded (non-blocking connect and reads under `poll` with a
/// deadline), writes use `MSG_NOSIGNAL` so a dead peer gives `EPIPE` instead of killing
/// the process, and every failure is a ``SwtpmFailure`` naming host:port.
///
/// Not thread-safe on its own; ``SwtpmBackend`` owns its connection under a `Mutex`.
struct SwtpmSocket: Sendable {
    /// The file descriptor.
    private(set) var fd: Int32
    /// `HOST:PORT`, for messages.
    let endpoint: String

    /// The IPv4 address of `host` (a dotted quad, or `localhost` for 127.0.0.1) in
    /// network byte order, or nil.
    static func ipv4(_ host: String) -> UInt32? {
        let literal = host == "localhost" ? "127.0.0.1" : host
        var addr = in_addr()
        guard inet_pton(AF_INET, literal, &addr) == 1 else { return nil }
        return addr.s_addr
    }

    /// `strerror(errno)` and the number.
    static func errorName(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: s)) (errno \(code))"
    }

    /// Connects to `host:port` within `timeoutMilliseconds`.
    static func connect(host: String, port: UInt16, timeoutMilliseconds: Int) throws(SwtpmFailure) -> SwtpmSocket {
        let endpoint = "\(host):\(port)"
        guard let address = ipv4(host) else { throw SwtpmFailure.socketError(endpoint: endpoint, operation: "address lookup", errno: EINVAL) }
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SwtpmFailure.socketError(endpoint: endpoint, operation: "socket", errno: errno) }
        let s = SwtpmSocket(fd: fd, endpoint: endpoint)
        let flags = fcntl(fd, F_GETFL, 0)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let e = errno
            s.close()
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "fcntl(O_NONBLOCK)", errno: e)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = address
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                #if canImport(Glibc)
                Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                Darwin.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        if rc == 0 { return s }
        let e = errno
        guard e == EINPROGRESS else {
            s.close()
            if e == ECONNREFUSED { throw SwtpmFailure.connectionRefused(endpoint: endpoint) }
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "connect", errno: e)
        }
        let ready: Bool
        do throws(SwtpmFailure) {
            ready = try s.poll(events: Int16(POLLOUT), deadline: Deadline(milliseconds: timeoutMilliseconds), operation: "connect")
        } catch {
            s.close()
            throw error
        }
        guard ready else {
            s.close()
            throw SwtpmFailure.connectTimedOut(endpoint: endpoint, milliseconds: timeoutMilliseconds)
        }
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) == 0 else {
            let e = errno
            s.close()
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "getsockopt(SO_ERROR)", errno: e)
        }
        guard soError == 0 else {
            s.close()
            if soError == ECONNREFUSED { throw SwtpmFailure.connectionRefused(endpoint: endpoint) }
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "connect", errno: soError)
        }
        return s
    }

    /// A point in time (CLOCK_MONOTONIC) by which an operation must finish.
    struct Deadline {
        let end: Int64
        let milliseconds: Int
        init(milliseconds: Int) {
            self.milliseconds = milliseconds
            end = Self.now() + Int64(milliseconds)
        }
        static func now() -> Int64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        }
        var remaining: Int32 { Int32(clamping: max(0, end - Self.now())) }
    }

    /// Waits for `events`; false on timeout.
    private func poll(events: Int16, deadline: Deadline, operation: String) throws(SwtpmFailure) -> Bool {
        while true {
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = withUnsafeMutablePointer(to: &p) {
                #if canImport(Glibc)
                Glibc.poll($0, 1, deadline.remaining)
                #else
                Darwin.poll($0, 1, deadline.remaining)
                #endif
            }
            if n > 0 { return true }
            if n == 0 { return false }
            let e = errno
            if e == EINTR { continue }
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "poll (\(operation))", errno: e)
        }
    }

    /// After a `send` or `recv` that moved nothing (`n` ≤ 0, `errno` `e`): `true` to try
    /// again (interrupted, or the socket became ready for `events` in time), `false` for
    /// an error the caller reports.
    /// - Throws: ``SwtpmFailure/timedOut(endpoint:command:milliseconds:)`` when `deadline`
    ///   passes first.
    private func retries(
        _ n: Int, errno e: Int32, events: Int16, operation: String, command: String, deadline: Deadline
    ) throws(SwtpmFailure) -> Bool {
        if n < 0, e == EINTR { return true }
        guard n < 0, e == EAGAIN || e == EWOULDBLOCK else { return false }
        guard try poll(events: events, deadline: deadline, operation: operation) else {
            throw SwtpmFailure.timedOut(endpoint: endpoint, command: command, milliseconds: deadline.milliseconds)
        }
        return true
    }

    /// Sends all of `bytes` before `deadline`.
    func sendAll(_ bytes: [UInt8], command: String, deadline: Deadline) throws(SwtpmFailure) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress?.advanced(by: sent), bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                continue
            }
            let e = errno
            if try retries(n, errno: e, events: Int16(POLLOUT), operation: "send", command: command, deadline: deadline) {
                continue
            }
            if e == EPIPE || e == ECONNRESET { throw SwtpmFailure.connectionClosed(endpoint: endpoint, command: command, received: 0, expected: 0) }
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "send (\(command))", errno: e)
        }
    }

    /// Reads exactly `count` bytes before `deadline`, appending to `buffer`.
    /// - Parameter expected: the total size being read, for the short-read message.
    func receive(_ count: Int, into buffer: inout [UInt8], command: String, expected: Int, deadline: Deadline) throws(SwtpmFailure) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        var remaining = count
        while remaining > 0 {
            let want = min(remaining, chunk.count)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                remaining -= n
                continue
            }
            let e = errno
            if try retries(n, errno: e, events: Int16(POLLIN), operation: "recv", command: command, deadline: deadline) {
                continue
            }
            if n == 0 || e == ECONNRESET {
                throw SwtpmFailure.connectionClosed(endpoint: endpoint, command: command, received: buffer.count, expected: expected)
            }
            throw SwtpmFailure.socketError(endpoint: endpoint, operation: "recv (\(command))", errno: e)
        }
    }

    /// Closes the descriptor.
    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }
}
