import Foundation
import TPM

/// One RSA key for every TPM test (generation costs up to a second).
enum TPMTestKey {
    static let pem: String = {
        do { return try TPMProvisioning.generateKeyPEM() } catch { fatalError("TPM test key generation failed: \(error)") }
    }()
    static let otherPEM: String = {
        do { return try TPMProvisioning.generateKeyPEM() } catch { fatalError("TPM test key generation failed: \(error)") }
    }()
    static let password: [UInt8] = Array("uv-wrapping-key-passwd".utf8)

    /// A fresh TPM and its configuration.
    static func provision(seed: UInt64? = 1) throws -> (SoftwareTPM, TPMWrappingKeyConfiguration) {
        let (tpm, config) = try TPMProvisioning.provision(keyPEM: pem, authValue: password, seed: seed)
        return (tpm, config)
    }
}

/// Records every command and response going over a transport.
final class TPMWireLog {
    // Only used from one test at a time, on one thread.
    var exchanges: [(command: [UInt8], response: [UInt8])] = []

    func transport(_ tpm: SoftwareTPM) -> TPMClient.Transport {
        { command in
            let response = try tpm.execute(command)
            self.exchanges.append((command, response))
            return response
        }
    }

    var commandCodes: [TPMCommandCode] {
        exchanges.map { e in TPMCommandCode(rawValue: e.command[6..<10].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
    }
}

/// The response code of a raw response.
func tpmResponseCode(_ response: [UInt8]) -> TPMResponseCode {
    TPMResponseCode(rawValue: response[6..<10].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
}

/// Lower-case hex.
func tpmHex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
