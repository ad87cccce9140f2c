/// Where a swtpm listens: an IPv4 address (or `localhost`) and the TCP port of its
/// server (TPM command) socket. Its control channel is, by swtpm convention
/// (`swtpm socket --server port=P --ctrl port=P+1`), on the next port unless told.
public struct SwtpmAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host as given (an IPv4 literal or `localhost`).
    public var host: String
    /// The server (TPM command) port.
    public var port: UInt16
    /// The control-channel port (`--ctrl type=tcp,port=…`).
    public var controlPort: UInt16

    /// The prefix of a `--tpm` spec naming a swtpm.
    public static let specPrefix = "swtpm:"

    /// An address; the control port defaults to `port + 1`.
    /// - Throws: ``SwtpmAddressError/badHost(_:)`` for a host that is not an IPv4 literal
    ///   or `localhost`; ``SwtpmAddressError/badPort(_:)`` for port 65535 without an
    ///   explicit control port.
    public init(host: String, port: UInt16, controlPort: UInt16? = nil) throws(SwtpmAddressError) {
        guard SwtpmSocket.ipv4(host) != nil else { throw SwtpmAddressError.badHost(host) }
        guard port != 0 else { throw SwtpmAddressError.badPort("0") }
        guard let control = controlPort ?? (port == .max ? nil : port + 1), control != 0 else {
            throw SwtpmAddressError.badPort("\(port) (its control port \(port)+1 is out of range)")
        }
        self.host = host
        self.port = port
        self.controlPort = control
    }

    /// Parses `swtpm:HOST:PORT` (the `svmkit boot --tpm` form), e.g. `swtpm:127.0.0.1:2321`.
    /// HOST is an IPv4 literal or `localhost`; PORT is 1–65534 (its control channel is
    /// PORT+1).
    /// - Throws: ``SwtpmAddressError`` naming the spec and what is wrong with it.
    public static func parse(_ spec: String) throws(SwtpmAddressError) -> SwtpmAddress {
        guard spec.hasPrefix(specPrefix) else { throw SwtpmAddressError.notSwtpm(spec) }
        let rest = spec.dropFirst(specPrefix.count)
        guard let colon = rest.lastIndex(of: ":") else { throw SwtpmAddressError.missingPort(spec) }
        let host = String(rest[..<colon])
        let portText = String(rest[rest.index(after: colon)...])
        guard !host.isEmpty else { throw SwtpmAddressError.badHost(spec) }
        guard let port = UInt16(portText), port != 0 else { throw SwtpmAddressError.badPort(portText.isEmpty ? spec : portText) }
        return try SwtpmAddress(host: host, port: port)
    }

    /// `HOST:PORT`.
    public var description: String { "\(host):\(port)" }
}

/// A `swtpm:HOST:PORT` spec that cannot be used.
public enum SwtpmAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The spec does not start with `swtpm:`.
    case notSwtpm(String)
    /// The spec has no `:PORT`.
    case missingPort(String)
    /// The host is not an IPv4 literal or `localhost`.
    case badHost(String)
    /// The port is not a number from 1 to 65534.
    case badPort(String)

    /// A sentence naming the spec.
    public var description: String {
        switch self {
        case .notSwtpm(let s): "'\(s)' is not a swtpm spec (expected swtpm:HOST:PORT)"
        case .missingPort(let s): "'\(s)' has no port (expected swtpm:HOST:PORT)"
        case .badHost(let h): "swtpm host '\(h)' is not an IPv4 address or localhost"
        case .badPort(let p): "swtpm port '\(p)' is not a number from 1 to 65534"
        }
    }
}
