import Foundation
import _CryptoExtras

/// A wrapping key provisioned in a real TPM: the Ultravisor's `ibm,uv-tpm` parameters
/// and the public key for the ESM blob's TPM lockbox (`lockbox-1`). The private key
/// stays in the TPM.
///
/// Stored in a directory (as `Scripts/swtpm-provision` and
/// ``TPMProvisioning/provisionTPMKey(on:authValue:handle:policyB:)`` leave it) as
/// ``parametersFileName`` (JSON: each `ibm,uv-tpm` property by name, as lower-case hex of
/// the property bytes; the handle also as `0x…`) and ``publicKeyFileName`` (PEM, the
/// file svm-tools' `tssreadpublic -ho 81800001 -opem` makes).
public struct TPMProvisionedKey: Sendable, Hashable {
    /// The JSON file with the `ibm,uv-tpm` parameters.
    public static let parametersFileName = "wrapping-key.json"
    /// The public key (SubjectPublicKeyInfo PEM).
    public static let publicKeyFileName = "tpmrsapubkey.pem"

    /// The `ibm,uv-tpm` parameters.
    public var configuration: TPMWrappingKeyConfiguration
    /// The key's public area as the TPM reports it.
    public var publicArea: TPMRSAPublicArea
    /// The public key as SubjectPublicKeyInfo PEM with a final newline.
    public var publicKeyPEM: String

    /// Makes a record.
    public init(configuration: TPMWrappingKeyConfiguration, publicArea: TPMRSAPublicArea, publicKeyPEM: String) {
        self.configuration = configuration
        self.publicArea = publicArea
        self.publicKeyPEM = publicKeyPEM
    }

    /// The parameters file's JSON.
    public var parametersJSON: String {
        let c = configuration
        let handle = "0x" + String(c.handle, radix: 16)
        let fields: [(String, String)] = [
            ("compatible", TPMWrappingKeyConfiguration.compatible), (TPMWrappingKeyConfiguration.handleProperty, handle),
            (TPMWrappingKeyConfiguration.passwordProperty, TPMError.hex(c.password)),
            (TPMWrappingKeyConfiguration.publicNameProperty, TPMError.hex(c.publicName)),
            (TPMWrappingKeyConfiguration.policyAProperty, TPMError.hex(c.policyA)),
            (TPMWrappingKeyConfiguration.policyBProperty, TPMError.hex(c.policyB)),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \"\($0.1)\"" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Reads the parameters JSON (see the type's description).
    /// - Throws: `.invalidConfiguration` naming the missing or malformed field.
    public static func configuration(fromJSON data: [UInt8]) throws(TPMError) -> TPMWrappingKeyConfiguration {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(data)) } catch {
            throw TPMError.invalidConfiguration("\(parametersFileName) is not JSON: \(error.localizedDescription)")
        }
        guard let fields = object as? [String: Any] else { throw TPMError.invalidConfiguration("\(parametersFileName) is not a JSON object") }
        var properties: [String: [UInt8]] = [:]
        for name in [
            TPMWrappingKeyConfiguration.handleProperty, TPMWrappingKeyConfiguration.passwordProperty, TPMWrappingKeyConfiguration.publicNameProperty,
            TPMWrappingKeyConfiguration.policyAProperty, TPMWrappingKeyConfiguration.policyBProperty,
        ] {
            guard let value = fields[name] else { continue }  // init(properties:) names it
            guard var text = value as? String else { throw TPMError.invalidConfiguration("\(name) in \(parametersFileName) is not a string") }
            if name == TPMWrappingKeyConfiguration.handleProperty {
                guard text.hasPrefix("0x"), let h = UInt32(text.dropFirst(2), radix: 16) else {
                    throw TPMError.invalidConfiguration("\(name) '\(text)' in \(parametersFileName) is not a 0x… 32-bit handle")
                }
                text = String(format: "%08x", h)
            }
            guard let bytes = hexBytes(text) else { throw TPMError.invalidConfiguration("\(name) in \(parametersFileName) is not hex: '\(text)'") }
            properties[name] = bytes
        }
        return try TPMWrappingKeyConfiguration(properties: properties)
    }

    /// Writes ``parametersFileName`` and ``publicKeyFileName`` into `directory`.
    /// - Throws: `.invalidConfiguration` naming the file that could not be written.
    public func write(to directory: String) throws(TPMError) {
        for (name, text) in [(Self.parametersFileName, parametersJSON), (Self.publicKeyFileName, publicKeyPEM)] {
            let path = (directory as NSString).appendingPathComponent(name)
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
                throw TPMError.invalidConfiguration("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }

    /// Reads the parameters and the public key from `directory` (as left by
    /// `Scripts/swtpm-provision`) and checks that the key's Name matches the PEM:
    /// the public area is rebuilt from the PEM with SVMKit's template and the policy
    /// branches, and its Name must equal `wrapping-key-publicname`.
    /// - Throws: `.invalidConfiguration` for a missing or malformed file or a Name that
    ///   does not belong to the PEM; `.invalidKey` for a PEM that is not an RSA public key.
    public static func load(directory: String) throws(TPMError) -> TPMProvisionedKey {
        func read(_ name: String) throws(TPMError) -> Data {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TPMError.invalidConfiguration("cannot read \(path) (run Scripts/swtpm-provision \(directory))")
            }
            return data
        }
        let configuration = try configuration(fromJSON: Array(try read(parametersFileName)))
        let pem = String(decoding: try read(publicKeyFileName), as: UTF8.self)
        let key: _RSA.Encryption.PublicKey
        let primitives: _RSA.Encryption.PublicKey.Primitives
        do {
            key = try _RSA.Encryption.PublicKey(pemRepresentation: pem)
            primitives = try key.getKeyPrimitives()
        } catch {
            throw TPMError.invalidKey("\(publicKeyFileName) in \(directory) is not an RSA public key PEM")
        }
        let e = Array(primitives.publicExponent.drop { $0 == 0 })
        guard e.count <= 4 else { throw TPMError.invalidKey("public exponent longer than 32 bits") }
        var area = TPMRSAPublicArea(
            authPolicy: TPMPolicy.or([configuration.policyA, configuration.policyB]), keyBits: UInt16(clamping: key.keySizeInBits),
            exponent: e.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, modulus: Array(primitives.modulus.drop { $0 == 0 }))
        area.attributes.insert(.sensitiveDataOrigin)
        guard area.name == configuration.publicName else {
            throw TPMError.invalidConfiguration(
                "\(TPMWrappingKeyConfiguration.publicNameProperty) \(TPMError.hex(configuration.publicName)) is not the Name of \(publicKeyFileName) with SVMKit's key template (\(TPMError.hex(area.name)))"
            )
        }
        return TPMProvisionedKey(configuration: configuration, publicArea: area, publicKeyPEM: pem)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = hexDigit(digits[i]), let lo = hexDigit(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension TPMProvisioning {
    /// The SubjectPublicKeyInfo PEM (with a final newline, 64-column lines) of an RSA
    /// public area.
    /// - Throws: `.invalidKey` when the modulus and exponent do not make an RSA key.
    public static func publicKeyPEM(_ area: TPMRSAPublicArea) throws(TPMError) -> String {
        let exponent = area.exponent == 0 ? 65537 : area.exponent
        let e = [UInt8(exponent >> 24), UInt8(exponent >> 16 & 0xFF), UInt8(exponent >> 8 & 0xFF), UInt8(exponent & 0xFF)].drop { $0 == 0 }
        do {
            let key = try _RSA.Encryption.PublicKey(n: area.modulus, e: Array(e))
            let pem = key.pemRepresentation
            return pem.hasSuffix("\n") ? pem : pem + "\n"
        } catch {
            throw TPMError.invalidKey("the TPM's public area is not an RSA key (\(area.modulus.count)-byte modulus): \(error)")
        }
    }
}
