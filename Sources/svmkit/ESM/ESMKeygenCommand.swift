import ArgumentParser
import ESM
import Foundation

/// `svmkit esm keygen`: an RSA-2048 key pair written as svm-tool's `esm generate` writes it.
struct ESMKeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate an RSA-2048 key pair as svm-tool writes it.",
        discussion: """
            Writes DIR/NAME-seckey.pem (PKCS#1 "RSA PRIVATE KEY", mode 0600, no passphrase) \
            and DIR/NAME-pubkey.pem (the public key re-exported as svm-tool does, with its \
            final newline, so the fingerprint svm-tool computes from the private key matches \
            the one stored from the public file). Prints the SHA-256 fingerprint.

            Examples:
              svmkit esm keygen -o keys
              svmkit esm keygen -o keys --name tpm
            """
    )

    @Option(name: .shortAndLong, help: "Directory for the key files (created if missing).")
    var output: String

    @Option(help: "File name prefix.")
    var name = "esm"

    @Flag(help: "Overwrite existing key files.")
    var force = false

    func run() throws {
        let dir = URL(fileURLWithPath: output)
        let sec = dir.appendingPathComponent("\(name)-seckey.pem").path
        let pub = dir.appendingPathComponent("\(name)-pubkey.pem").path
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw ESMCLI.fail("keygen", "cannot create directory \(output): \(error.localizedDescription)")
        }
        if !force {
            for p in [sec, pub] where FileManager.default.fileExists(atPath: p) {
                throw ESMCLI.fail("keygen", "\(p) exists; use --force to overwrite")
            }
        }
        let key = try ESMCLI.run("keygen") { () throws(ESMError) in try ESMPrivateKey.generate() }
        try ESMCLI.write(key.pemFileBytes, to: sec, "private key", command: "keygen", mode: 0o600, force: force)
        try ESMCLI.write(key.publicKey.fileBytes, to: pub, "public key", command: "keygen", mode: 0o644, force: force)
        ESMCLI.stdout("\(sec)\n\(pub)\nfingerprint (SHA-256) \(ESMHex.encode(key.fingerprint))\n")
    }
}
