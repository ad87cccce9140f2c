import Foundation
import TPM

#if canImport(Glibc)
import Glibc

/// A private swtpm for the tests that need one (TPMTests, SVMKitTests, CLITests share
/// this one harness): started on 127.0.0.1 only, on a free
/// port pair (server P, control P+1), with a fresh state directory; killed by `stop()`.
///
/// It stays on Foundation's `Process`, unlike every other program the tests start
/// (`ProcessTestSupport`'s `ChildProcess`, on swift-subprocess): Subprocess 1.0.2 ties a
/// child to the async closure that runs it (its `Execution` must not escape), while
/// swtpm outlives the synchronous call that starts it and is signalled (`SIGSTOP`,
/// `SIGKILL`) and stopped from synchronous test code and `defer` blocks.
public final class SwtpmProcess: @unchecked Sendable {
    // Used from one test at a time; the fields are set once in init.
    /// The server (TPM command) port; the control channel is on port + 1.
    public let port: UInt16
    /// swtpm's state directory (fresh, removed by ``stop()``).
    public let stateDirectory: URL
    private let process: Process

    /// The path of swtpm, if installed: `$SVMKIT_SWTPM` when set (set it to a missing
    /// path to see the skip path), else /usr/bin or /usr/local/bin.
    public static let executable: String? = {
        let candidates = ProcessInfo.processInfo.environment["SVMKIT_SWTPM"].map { [$0] } ?? ["/usr/bin/swtpm", "/usr/local/bin/swtpm"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Why the swtpm tests are skipped, or nil when swtpm starts here (tried once).
    public static let skipReason: String? = {
        guard executable != nil else { return "swtpm is not installed (Scripts/bootstrap installs swtpm and swtpm-tools)" }
        do {
            let p = try SwtpmProcess()
            p.stop()
            return nil
        } catch {
            return "swtpm cannot start on 127.0.0.1: \(error)"
        }
    }()

    /// Whether the tests that need swtpm can run.
    public static var isUsable: Bool { skipReason == nil }

    /// `swtpm:127.0.0.1:PORT`.
    public var spec: String { "swtpm:127.0.0.1:\(port)" }

    /// Starts swtpm; `ready` adds `--flags not-need-init,startup-clear` (else the TPM
    /// needs CMD_INIT and TPM2_Startup first).
    public init(ready: Bool = true) throws {
        guard let executable = Self.executable else { throw TPMTransportError("swtpm is not installed") }
        stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("svmkit-swtpm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        var lastError = "no free port pair"
        for _ in 0..<5 {
            guard let port = freeLoopbackPortPair() else { continue }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments =
                [
                    "socket", "--tpm2", "--server", "type=tcp,port=\(port),bindaddr=127.0.0.1",
                    "--ctrl", "type=tcp,port=\(port + 1),bindaddr=127.0.0.1", "--tpmstate", "dir=\(stateDirectory.path)",
                ] + (ready ? ["--flags", "not-need-init,startup-clear"] : [])
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            for _ in 0..<250 where p.isRunning {
                // The control port by connecting; the server port only by its LISTEN entry
                // (a probe connection would take its one client slot), since swtpm may
                // open the control socket first and a test's first command would then be
                // refused.
                if canConnect(port: port + 1), isListening(port: port) {
                    self.port = port
                    self.process = p
                    return
                }
                usleep(20_000)
            }
            lastError = p.isRunning ? "swtpm did not listen on 127.0.0.1:\(port + 1) within 5 s" : "swtpm exited with status \(p.terminationStatus)"
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: stateDirectory)
        throw TPMTransportError(lastError)
    }

    /// Whether swtpm still runs.
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal to swtpm (our own child).
    public func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Kills swtpm and waits for it.
    public func kill9() {
        signal(SIGCONT)
        // The child inherits the test runner's blocked signal mask, so SIGTERM could wait
        // forever; SIGKILL cannot be blocked.
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// Waits (at most `seconds`) for swtpm to exit by itself.
    public func waitForExit(seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < end { usleep(10_000) }
        return !process.isRunning
    }

    /// Kills swtpm and removes its state.
    public func stop() {
        kill9()
        try? FileManager.default.removeItem(at: stateDirectory)
    }
}

/// A port P on 127.0.0.1 with P and P+1 both free (bound and released; a small race is
/// possible, and SwtpmProcess retries).
public func freeLoopbackPortPair() -> UInt16? {
    for _ in 0..<20 {
        guard let fd = boundLoopbackSocket(port: 0) else { return nil }
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        close(fd)
        let port = UInt16(bigEndian: addr.sin_port)
        guard port < 65000, let next = boundLoopbackSocket(port: port + 1) else { continue }
        close(next)
        return port
    }
    return nil
}

/// A TCP socket on which `body` (bind or connect) was called with 127.0.0.1:`port`;
/// nil (and the socket closed) when that failed.
func loopbackSocket(port: UInt16, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// A TCP socket bound to 127.0.0.1:`port` (0 = any free port).
public func boundLoopbackSocket(port: UInt16) -> Int32? {
    loopbackSocket(port: port) { bind($0, $1, $2) }
}

/// A blocking TCP connection to 127.0.0.1:`port`, or nil when nothing accepts it.
public func connectedLoopbackSocket(port: UInt16) -> Int32? {
    loopbackSocket(port: port) { Glibc.connect($0, $1, $2) }
}

/// Whether a TCP socket listens on 127.0.0.1:`port` (or on any address), from
/// `/proc/net/tcp` (state `0A`), without connecting to it.
public func isListening(port: UInt16) -> Bool {
    guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return true }
    let suffix = ":" + String(format: "%04X", Int(port))
    for line in table.split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 3 else { continue }
        let local = fields[1]
        if local.hasSuffix(suffix), fields[3] == "0A", local.hasPrefix("0100007F") || local.hasPrefix("00000000") {
            return true
        }
    }
    return false
}

/// Whether something accepts connections on 127.0.0.1:`port`.
public func canConnect(port: UInt16) -> Bool {
    guard let fd = connectedLoopbackSocket(port: port) else { return false }
    close(fd)
    return true
}
#endif
