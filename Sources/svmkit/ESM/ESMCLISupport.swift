import ArgumentParser
import ESM
import Foundation

/// File access and failure reporting shared by the `svmkit esm` subcommands.
///
/// Exit codes (``CLIExit``): 0 success; 1 a `verify` check failed, or an output could not
/// be written once the work was done; 2 bad input (a file that cannot be read, an output
/// path that cannot be used, a blob, key or archive that is malformed or does not fit),
/// with a message naming it on standard error.
enum ESMCLI {
    /// Exit code for bad input.
    static let badInput = CLIExit.badInputCode
    /// Exit code for a failed check (or lost output).
    static let checkFailed = CLIExit.failure

    /// Prints `message` to standard error, prefixed with the command.
    static func complain(_ command: String, _ message: String) {
        CLIReporter.err("svmkit esm \(command): \(message)\n")
    }

    /// Prints `message` and returns the bad-input exit code to throw.
    static func fail(_ command: String, _ message: String) -> ExitCode {
        complain(command, message)
        return badInput
    }

    /// The size limit for a kind of input (`kernel`, `initrd`, `ESM blob`, `… key`, …).
    static func limit(for what: String) -> Int {
        switch what {
        case "kernel", "initrd": CLIInput.Limit.image
        case "ESM blob": CLIInput.Limit.blob
        case "attachment": CLIInput.Limit.attachment
        case "RTAS text": CLIInput.Limit.rtas
        default: CLIInput.Limit.key
        }
    }

    /// Reads a whole file, at most ``limit(for:)`` bytes; a failure names `option`
    /// (e.g. `--origin`) when the file came from one.
    static func read(_ path: String, _ what: String, command: String, option: String? = nil) throws(ExitCode) -> [UInt8] {
        do { return try CLIInput.read(path, limit: limit(for: what), what: "a \(what)") } catch {
            if let option { throw fail(command, "\(option) \(path): cannot read \(what): \(error.reason)") }
            throw fail(command, "cannot read \(what) \(path): \(error.reason)")
        }
    }

    /// Checks, before the work starts, that `path` can be written (see ``CLIOutput``).
    static func checkOutput(_ path: String, _ what: String, command: String, force: Bool, option: String? = nil) throws(ExitCode) {
        do { try CLIOutput.check(path, force: force) } catch {
            throw fail(command, "\(option.map { "\($0) " } ?? "")\(path): cannot write \(what): \(error.reason)")
        }
    }

    /// Writes a whole file (through a temporary file and a rename, as svm-tool replaces
    /// blobs; never over a link or special file unless `force`).
    static func write(_ bytes: [UInt8], to path: String, _ what: String, command: String, mode: mode_t = 0o644, force: Bool = false)
        throws(ExitCode)
    {
        do { try CLIOutput.write(bytes, to: path, force: force, mode: mode) } catch {
            complain(command, "cannot write \(what) \(path): \(error.reason)")
            throw checkFailed
        }
    }

    /// Writes to standard output.
    static func stdout(_ text: String) { CLIReporter.out(text) }

    /// Reads and validates a blob. A file that is not an FDT but an initrd holding one
    /// (made by `add-to-initrd`) is searched as the Ultravisor does.
    static func blob(_ path: String, command: String) throws(ExitCode) -> ESMBlob {
        let bytes = try read(path, "ESM blob", command: command)
        do {
            if bytes.count >= 4, bytes[0..<4] != [0xD0, 0x0D, 0xFE, 0xED] {
                let loc = try ESMBlobLocator.locate(inInitrd: bytes)
                return try ESMBlob(bytes: loc.blob)
            }
            return try ESMBlob(bytes: bytes)
        } catch {
            throw fail(command, "\(path): \(error.message)")
        }
    }

    /// Reads a private key file (given with `option`, `--key` by default).
    static func privateKey(_ path: String, command: String, option: String = "--key") throws(ExitCode) -> ESMPrivateKey {
        let bytes = try read(path, "private key", command: command, option: option)
        do { return try ESMPrivateKey(pemFileBytes: bytes, source: path) } catch { throw fail(command, "\(option) \(error.message)") }
    }

    /// Reads a public key file (given with `option`; its exact bytes are the fingerprint input).
    static func publicKey(_ path: String, command: String, option: String) throws(ExitCode) -> ESMPublicKey {
        let bytes = try read(path, "public key", command: command, option: option)
        do { return try ESMPublicKey(fileBytes: bytes, source: path) } catch { throw fail(command, "\(option) \(error.message)") }
    }

    /// Runs an ESM operation, turning its error into a message and exit code 2.
    static func run<T>(_ command: String, _ context: String = "", _ body: () throws(ESMError) -> T) throws(ExitCode) -> T {
        do { return try body() } catch { throw fail(command, context.isEmpty ? error.message : "\(context): \(error.message)") }
    }

    /// Pretty, sorted JSON.
    static func json(_ value: some Encodable) -> String { CLIJSON.text(value) }

    /// The master key, opened with a private key (any authorized lockbox).
    static func masterKey(_ blob: ESMBlob, _ key: ESMPrivateKey, keyPath: String, command: String) throws(ExitCode) -> ESMMasterKey {
        try run(command, keyPath) { () throws(ESMError) in try blob.masterKey(using: key) }
    }
}

/// `NAME=PATH` for `--attach`.
struct ESMAttachmentArgument: ExpressibleByArgument {
    var name: String
    var path: String

    init?(argument: String) {
        guard let eq = argument.firstIndex(of: "="), eq != argument.startIndex else { return nil }
        name = String(argument[..<eq])
        path = String(argument[argument.index(after: eq)...])
        guard !path.isEmpty else { return nil }
    }

    static var defaultValueDescription: String { "NAME=PATH" }
}
