import ArgumentParser
import ESM
import Foundation

/// File access and failure reporting shared by the `svmkit esm` subcommands.
///
/// Exit codes: 0 success; 1 a `verify` check failed; 2 bad input (a file that cannot be
/// read or written, a blob, key or archive that is malformed or does not fit), with a
/// message naming it on standard error.
enum ESMCLI {
    /// Exit code for bad input.
    static let badInput = ExitCode(2)
    /// Exit code for a failed check.
    static let checkFailed = ExitCode(1)

    /// Prints `message` to standard error, prefixed with the command.
    static func complain(_ command: String, _ message: String) {
        FileHandle.standardError.write(Data("svmkit esm \(command): \(message)\n".utf8))
    }

    /// Prints `message` and returns the bad-input exit code to throw.
    static func fail(_ command: String, _ message: String) -> ExitCode {
        complain(command, message)
        return badInput
    }

    /// Reads a whole file.
    static func read(_ path: String, _ what: String, command: String) throws(ExitCode) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail(command, "cannot read \(what) \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied or a directory" : "no such file")")
        }
        return Array(data)
    }

    /// Writes a whole file (through a temporary file and a rename, as svm-tool replaces blobs).
    static func write(_ bytes: [UInt8], to path: String, _ what: String, command: String, mode: Int? = nil) throws(ExitCode) {
        let url = URL(fileURLWithPath: path)
        do {
            try Data(bytes).write(to: url, options: .atomic)
            if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path) }
        } catch {
            throw fail(command, "cannot write \(what) \(path): \(error.localizedDescription)")
        }
    }

    /// Writes to standard output.
    static func stdout(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

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

    /// Reads a private key file.
    static func privateKey(_ path: String, command: String) throws(ExitCode) -> ESMPrivateKey {
        let bytes = try read(path, "private key", command: command)
        do { return try ESMPrivateKey(pemFileBytes: bytes, source: path) } catch { throw fail(command, error.message) }
    }

    /// Reads a public key file (its exact bytes are the fingerprint input).
    static func publicKey(_ path: String, command: String) throws(ExitCode) -> ESMPublicKey {
        let bytes = try read(path, "public key", command: command)
        do { return try ESMPublicKey(fileBytes: bytes, source: path) } catch { throw fail(command, error.message) }
    }

    /// Runs an ESM operation, turning its error into a message and exit code 2.
    static func run<T>(_ command: String, _ context: String = "", _ body: () throws(ESMError) -> T) throws(ExitCode) -> T {
        do { return try body() } catch { throw fail(command, context.isEmpty ? error.message : "\(context): \(error.message)") }
    }

    /// Pretty, sorted JSON.
    static func json(_ value: some Encodable) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return ((try? e.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}") + "\n"
    }

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
