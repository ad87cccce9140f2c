import Foundation
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SwtpmTestSupport
import TPM
import Testing

#if canImport(Glibc)
import Glibc

/// The Ultravisor's side of `H_TPM_COMM` (as `svm/svm-tss.c` does it: command into the
/// bounce page, `H_TPM_COMM(1, page, length, page, 4096)`, r4 = response length) over a
/// hypervisor whose TPM is `backend`, so tests see what the Ultravisor would.
struct HypervisorTPMTransport {
    static let page = GuestPhysicalAddress(rawValue: 40 * 65536)
    let machine: Machine
    /// Every hypercall's status, in order.
    let statuses = StatusLog()

    final class StatusLog: @unchecked Sendable {
        // One test at a time, one thread.
        var all: [HypervisorStatus] = []
    }

    struct Failure: Error, CustomStringConvertible {
        let status: HypervisorStatus
        var description: String { "H_TPM_COMM returned \(status)" }
    }

    init(backend: any TPMBackend) throws {
        machine = try Machine(configuration: MachineConfiguration(memoryBytes: 64 << 20, processorCount: 1))
        machine.attach(hypervisor: Hypervisor(configuration: HypervisorConfiguration(tpm: backend)))
    }

    func execute(_ command: [UInt8]) throws -> [UInt8] {
        try machine.memory.write(.ultravisor, at: Self.page, bytes: command)
        let answer = machine.hypercall(
            .tpmComm, [1, Self.page.rawValue, UInt64(command.count), Self.page.rawValue, 4096], from: .ultravisor(vcpu: 0), depth: 1)
        statuses.all.append(answer.hypervisorStatus)
        guard answer.hypervisorStatus == .success else { throw Failure(status: answer.hypervisorStatus) }
        return try machine.memory.read(.ultravisor, at: Self.page, count: Int(answer.registers[4]))
    }
}

/// `TPM2_GetRandom(8)`.
let getRandomCommand = TPMClient.command(.getRandom, parameters: [0, 8])

/// SwtpmBackend's addressing and its failures, with no swtpm needed: nothing listening,
/// a peer that answers garbage, closes mid-response, or never answers.
@Suite("SwtpmBackend transport failures", .timeLimit(.minutes(1)))
struct SwtpmBackendTests {
    @Test("swtpm:HOST:PORT specs parse; bad ones get a typed error naming the problem")
    func specs() throws {
        let a = try SwtpmAddress.parse("swtpm:127.0.0.1:2321")
        #expect(a.host == "127.0.0.1" && a.port == 2321 && a.controlPort == 2322)
        #expect(a.description == "127.0.0.1:2321")
        #expect(try SwtpmAddress.parse("swtpm:localhost:5").port == 5)
        #expect(try SwtpmBackend(spec: "swtpm:127.0.0.1:9").address.port == 9)
        let bad: [(String, SwtpmAddressError)] = [
            ("software", .notSwtpm("software")), ("tpm:127.0.0.1:1", .notSwtpm("tpm:127.0.0.1:1")),
            ("swtpm:127.0.0.1", .missingPort("swtpm:127.0.0.1")), ("swtpm::2321", .badHost("swtpm::2321")),
            ("swtpm:tpm.example.com:2321", .badHost("tpm.example.com")), ("swtpm:127.0.0.1:0", .badPort("0")),
            ("swtpm:127.0.0.1:70000", .badPort("70000")), ("swtpm:127.0.0.1:x", .badPort("x")),
            ("swtpm:127.0.0.1:", .badPort("swtpm:127.0.0.1:")),
        ]
        for (spec, expected) in bad {
            #expect(throws: expected, "\(spec)") { try SwtpmAddress.parse(spec) }
        }
        #expect(throws: SwtpmAddressError.self) { try SwtpmAddress.parse("swtpm:127.0.0.1:65535") }  // no room for the control port
        #expect(SwtpmAddressError.badHost("tpm.example.com").description.contains("tpm.example.com"))
    }

    @Test("Nothing listening: connection refused, naming host:port; H_TPM_COMM answers H_RESOURCE")
    func refused() throws {
        let port = try #require(freeLoopbackPortPair())
        let backend = SwtpmBackend(address: try SwtpmAddress(host: "127.0.0.1", port: port))
        #expect(throws: SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(port)")) { try backend.send(getRandomCommand) }
        do {
            _ = try backend.execute(getRandomCommand)
            Issue.record("execute succeeded with nothing listening")
        } catch {
            #expect(error.reason.contains("127.0.0.1:\(port)") && error.reason.contains("connection refused"), "\(error)")
        }
        // Through the hypervisor, as the Ultravisor sees it.
        let hv = try HypervisorTPMTransport(backend: backend)
        #expect(throws: HypervisorTPMTransport.Failure.self) { try hv.execute(getRandomCommand) }
        #expect(hv.statuses.all == [.resource])
        // And the whole unwrap fails at its first command with the transport error.
        let config = TPMWrappingKeyConfiguration(
            handle: TPMHandle.wrappingKey, password: [0x61, 0], publicName: [], policyA: TPMPolicy.rsaDecryptWithAuthValue,
            policyB: TPMPolicy.objectChangeAuthWithAuthValue)
        do {
            _ = try TPMLockboxUnwrapper(configuration: config).unwrap([UInt8](repeating: 1, count: 256), transport: { try backend.execute($0) })
            Issue.record("unwrap succeeded with nothing listening")
        } catch {
            guard case .transport(let reason) = error else { Issue.record("expected .transport, got \(error)"); return }
            #expect(reason.hasPrefix("TPM2_ReadPublic") && reason.contains("127.0.0.1:\(port)"), "\(reason)")
        }
        // The control channel too.
        #expect(throws: SwtpmFailure.connectionRefused(endpoint: "127.0.0.1:\(port + 1)")) { try backend.initialize() }
    }

    @Test("A peer that answers garbage: not a TPM 2.0 response, naming the tag")
    func garbage() throws {
        let server = try FakeTPMServer(.reply(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8)))
        defer { server.stop() }
        let backend = SwtpmBackend(address: try server.address, timeoutMilliseconds: 5000)
        do {
            _ = try backend.send(getRandomCommand)
            Issue.record("garbage accepted")
        } catch {
            guard case .malformedResponse(let endpoint, let command, let reason) = error else { Issue.record("got \(error)"); return }
            #expect(endpoint == "127.0.0.1:\(server.port)" && command == "TPM2_GetRandom" && reason.contains("tag 0x4854"), "\(error)")
        }
    }

    @Test("A response size under 10 bytes or over the limit is refused")
    func badSize() throws {
        for size: UInt32 in [6, 0x1000_0000] {
            let server = try FakeTPMServer(.reply([0x80, 0x01, UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF), 0, 0, 0, 0]))
            defer { server.stop() }
            let backend = SwtpmBackend(address: try server.address, timeoutMilliseconds: 5000)
            do {
                _ = try backend.send(getRandomCommand)
                Issue.record("size \(size) accepted")
            } catch {
                guard case .malformedResponse(_, _, let reason) = error else { Issue.record("got \(error)"); continue }
                #expect(reason.contains("responseSize \(size)"), "\(error)")
            }
        }
    }

    @Test("The peer closes mid-response: connection closed after 12 of 20 bytes, then reconnects")
    func shortRead() throws {
        let server = try FakeTPMServer(.replyAndClose([0x80, 0x01, 0, 0, 0, 20, 0, 0, 0, 0, 0, 8]))
        defer { server.stop() }
        let address = try server.address
        let backend = SwtpmBackend(address: address, timeoutMilliseconds: 5000)
        #expect(throws: SwtpmFailure.connectionClosed(endpoint: "127.0.0.1:\(server.port)", command: "TPM2_GetRandom", received: 12, expected: 20)) {
            try backend.send(getRandomCommand)
        }
        // The broken connection was dropped; the next command connects again (and is refused: the fake server is gone).
        server.stop()
        #expect(throws: SwtpmFailure.self) { try backend.send(getRandomCommand) }
        #expect(backend.connectionsOpened == 1 && backend.commandsSent == 2)
    }

    @Test("The peer closes before any answer")
    func closedBeforeHeader() throws {
        let server = try FakeTPMServer(.replyAndClose([]))
        defer { server.stop() }
        let backend = SwtpmBackend(address: try server.address, timeoutMilliseconds: 5000)
        #expect(throws: SwtpmFailure.connectionClosed(endpoint: "127.0.0.1:\(server.port)", command: "TPM2_GetRandom", received: 0, expected: 0)) {
            try backend.send(getRandomCommand)
        }
    }

    @Test("A peer that never answers: a timeout, not a hang")
    func silent() throws {
        let server = try FakeTPMServer(.silent)
        defer { server.stop() }
        let backend = SwtpmBackend(address: try server.address, timeoutMilliseconds: 200)
        #expect(throws: SwtpmFailure.timedOut(endpoint: "127.0.0.1:\(server.port)", command: "TPM2_GetRandom", milliseconds: 200)) {
            try backend.send(getRandomCommand)
        }
    }

    @Test("Commands shorter than a header or over the limit are not sent")
    func invalidCommands() throws {
        let backend = SwtpmBackend(address: try SwtpmAddress(host: "127.0.0.1", port: 1))
        #expect(throws: SwtpmFailure.self) { try backend.send([0x80, 0x01]) }
        #expect(throws: SwtpmFailure.self) { try backend.send([UInt8](repeating: 0, count: SwtpmBackend.maximumMessageSize + 1)) }
        #expect(backend.connectionsOpened == 0)
    }
}
#endif
