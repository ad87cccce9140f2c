public import TPM
import Foundation

extension ExternalTPM {
    /// The swtpm at `spec` (`swtpm:HOST:PORT`, `svmkit boot --tpm`) with the key that
    /// `Scripts/swtpm-provision` (or `TPMProvisionedKey.write(to:)`) left in
    /// `directory` (`--tpm-dir`): `wrapping-key.json` and `tpmrsapubkey.pem`, whose Name
    /// is checked against the parameters. Nothing is connected yet: an unreachable swtpm
    /// shows at boot, as `H_RESOURCE` to the Ultravisor.
    /// - Parameters:
    ///   - spec: where swtpm listens, `swtpm:HOST:PORT`.
    ///   - directory: the folder `Scripts/swtpm-provision` wrote.
    ///   - timeoutMilliseconds: the bound on connecting and on each command.
    /// - Throws: ``BootError`` naming `--tpm SPEC` (bad address) or `--tpm-dir DIR`
    ///   (missing directory, missing or garbled key files).
    public static func swtpm(
        spec: String, directory: String, timeoutMilliseconds: Int = SwtpmBackend.defaultTimeoutMilliseconds
    ) throws(BootError) -> ExternalTPM {
        let address: SwtpmAddress
        do { address = try SwtpmAddress.parse(spec) } catch { throw BootError(input: "--tpm \(spec)", error.description) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BootError(
                input: "--tpm-dir \(directory)",
                "no such directory (give the directory Scripts/swtpm-provision wrote: \(TPMProvisionedKey.parametersFileName), \(TPMProvisionedKey.publicKeyFileName))")
        }
        let key: TPMProvisionedKey
        do { key = try TPMProvisionedKey.load(directory: directory) } catch {
            throw BootError(input: "--tpm-dir \(directory)", error.description)
        }
        let backend = SwtpmBackend(address: address, timeoutMilliseconds: timeoutMilliseconds)
        return ExternalTPM(label: SwtpmAddress.specPrefix + address.description, backend: backend, key: key)
    }
}
