import Foundation
import SwtpmTestSupport
import TPM

#if canImport(Glibc)
import Glibc

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
