import Foundation
import TPM

#if canImport(Glibc)
import Glibc

/// A private swtpm for the SwtpmBackend tests: started on 127.0.0.1 only, on a free
/// port pair (server P, control P+1), with a fresh state directory; killed by `stop()`.
final class SwtpmProcess: @unchecked Sendable {
    // Used from one test at a time; the fields are set once in init.
    let port: UInt16
    let stateDirectory: URL
    private let process: Process

    /// The path of swtpm, if installed: `$SVMKIT_SWTPM` when set (set it to a missing
    /// path to see the skip path), else /usr/bin or /usr/local/bin.
    static let executable: String? = {
        let candidates = ProcessInfo.processInfo.environment["SVMKIT_SWTPM"].map { [$0] } ?? ["/usr/bin/swtpm", "/usr/local/bin/swtpm"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Why the swtpm tests are skipped, or nil when swtpm starts here (tried once).
    static let skipReason: String? = {
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
    static var isUsable: Bool { skipReason == nil }

    /// `swtpm:127.0.0.1:PORT`.
    var spec: String { "swtpm:127.0.0.1:\(port)" }

    /// Starts swtpm; `ready` adds `--flags not-need-init,startup-clear` (else the TPM
    /// needs CMD_INIT and TPM2_Startup first).
    init(ready: Bool = true) throws {
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
                if canConnect(port: port + 1) {  // the control port: probing the server port would take its one client slot
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

    var isRunning: Bool { process.isRunning }

    /// Sends a signal to swtpm (our own child).
    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Kills swtpm and waits for it.
    func kill9() {
        signal(SIGCONT)
        // The child inherits the test runner's blocked signal mask, so SIGTERM could wait
        // forever; SIGKILL cannot be blocked.
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// Waits (at most `seconds`) for swtpm to exit by itself.
    func waitForExit(seconds: Double) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < end { usleep(10_000) }
        return !process.isRunning
    }

    /// Kills swtpm and removes its state.
    func stop() {
        kill9()
        try? FileManager.default.removeItem(at: stateDirectory)
    }
}

/// A port P on 127.0.0.1 with P and P+1 both free (bound and released; a small race is
/// possible, and SwtpmProcess retries).
func freeLoopbackPortPair() -> UInt16? {
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

/// A TCP socket bound to 127.0.0.1:`port` (0 = any free port).
func boundLoopbackSocket(port: UInt16) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// Whether something accepts connections on 127.0.0.1:`port`.
func canConnect(port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// A one-connection TCP server on 127.0.0.1 that reads one command and answers as told,
/// to test how SwtpmBackend treats a peer that is not a working swtpm.
final class FakeTPMServer: Sendable {
    enum Behaviour: Sendable {
        /// Send these bytes, then keep the connection open until the client closes it.
        case reply([UInt8])
        /// Send these bytes, then close the connection.
        case replyAndClose([UInt8])
        /// Never answer; wait until the client closes.
        case silent
    }

    let port: UInt16
    private let listener: Int32

    init(_ behaviour: Behaviour) throws {
        guard let fd = boundLoopbackSocket(port: 0), listen(fd, 1) == 0 else { throw TPMTransportError("fake server: cannot listen") }
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd
        Thread.detachNewThread {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            func readExactly(_ count: Int) -> [UInt8] {
                var got = 0
                while got < count {
                    let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress?.advanced(by: got), count - got, 0) }
                    guard n > 0 else { break }
                    got += n
                }
                return Array(buffer.prefix(got))
            }
            let header = readExactly(10)
            if header.count == 10 {
                let size = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
                _ = readExactly(min(4096, max(0, size - 10)))
            }
            func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) } }
            switch behaviour {
            case .reply(let bytes):
                send(bytes)
                while (buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, 4096, 0) }) > 0 {}
            case .replyAndClose(let bytes):
                send(bytes)
            case .silent:
                while (buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, 4096, 0) }) > 0 {}
            }
            close(client)
        }
    }

    /// Stops listening.
    func stop() { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    var address: SwtpmAddress {
        get throws { try SwtpmAddress(host: "127.0.0.1", port: port, controlPort: port) }
    }
}
#endif
