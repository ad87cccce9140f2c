import Foundation
import SwtpmTestSupport
import TPM

#if canImport(Glibc)
import Glibc

/// A private swtpm (libtpms) for conformance tests, spoken to with raw TPM 2.0 commands
/// over its own blocking socket. The process is a ``SwtpmProcess`` (the shared harness:
/// free port pair, fresh state directory, bounded start-up); tests using it are skipped
/// with ``SwtpmProcess/skipReason`` when swtpm is not usable.
final class SWTPMHarness {
    // Used from one test, on one thread at a time.
    private let process: SwtpmProcess
    private var socketFD: Int32 = -1

    init() throws {
        process = try SwtpmProcess()
        guard let fd = Self.connect(port: process.port) else {
            process.stop()
            throw TPMTransportError("cannot connect to swtpm on 127.0.0.1:\(process.port)")
        }
        socketFD = fd
    }

    private static func connect(port: UInt16) -> Int32? {
        guard let fd = connectedLoopbackSocket(port: port) else { return nil }
        // Never wait more than 10 s for an answer.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends one command and reads one response.
    func execute(_ command: [UInt8]) -> [UInt8] {
        var sent = 0
        while sent < command.count {
            let n = command.withUnsafeBytes { send(socketFD, $0.baseAddress?.advanced(by: sent), command.count - sent, 0) }
            guard n > 0 else { return [] }
            sent += n
        }
        func read(_ count: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                let n = out.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress?.advanced(by: got), count - got, 0) }
                guard n > 0 else { return Array(out.prefix(got)) }
                got += n
            }
            return out
        }
        let header = read(10)
        guard header.count == 10 else { return header }
        let size = Int(header[2]) << 24 | Int(header[3]) << 16 | Int(header[4]) << 8 | Int(header[5])
        return header + read(max(0, size - 10))
    }

    /// Closes the connection, ends swtpm, removes its state.
    func stop() {
        if socketFD >= 0 { close(socketFD) }
        socketFD = -1
        process.stop()
    }
}
#endif

/// The INTEGERs of a PKCS#1 `RSAPrivateKey` PEM (version, n, e, d, p, q, …), leading zeros removed.
func tpmRSAIntegers(pem: String) -> [[UInt8]] {
    let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    guard let der = Data(base64Encoded: body).map(Array.init) else { return [] }
    var i = 0
    func length() -> Int? {
        guard i < der.count else { return nil }
        var l = Int(der[i])
        i += 1
        if l & 0x80 != 0 {
            let n = l & 0x7F
            l = 0
            for _ in 0..<n {
                guard i < der.count else { return nil }
                l = l << 8 | Int(der[i])
                i += 1
            }
        }
        return l
    }
    guard der.first == 0x30 else { return [] }
    i = 1
    _ = length()
    var out: [[UInt8]] = []
    while i < der.count, der[i] == 0x02 {
        i += 1
        guard let l = length(), i + l <= der.count else { break }
        out.append(Array(der[i..<i + l].drop { $0 == 0 }))
        i += l
    }
    return out
}
