import ArgumentParser
import ESM
import Foundation

/// `svmkit esm inspect`: what a blob holds; with a key, the digests and attachments too.
struct ESMInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a blob's lockboxes and files; with --key, its digests.",
        discussion: """
            Lists the lockboxes (origin first, then recipients by number, as svm-tool's \
            `display`) with their SHA-256 key fingerprints and comments, and the attached \
            files (names and comments are not encrypted; svm-tool's own file list is broken). \
            With --key (any authorized private key) it also decrypts and shows the digests \
            and checks every attachment decrypts. FILE may also be an initrd made by \
            add-to-initrd: the blob is then found as the Ultravisor finds it.

            Examples:
              svmkit esm inspect esmb.dtb
              svmkit esm inspect esmb.dtb --key keys/owner-seckey.pem --json
            """
    )

    @Argument(help: ArgumentHelp("The blob (or an initrd holding one).", valueName: "FILE"))
    var file: String

    @Option(help: ArgumentHelp("A private key that opens one of the lockboxes.", valueName: "PEM"))
    var key: String?

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        struct Lockbox: Encodable {
            var name, role, fingerprint, comment: String
            var encryptedSymKeyBytes: Int
        }
        struct Digests: Encodable {
            var algorithm, rtas, kernel, initrd, bootargs: String
            var kernelSize: UInt32
            var rtasIsSLOFStub: Bool
        }
        struct File: Encodable {
            var name, comment: String
            var bytes: Int
            var decrypts: Bool?
        }
        var file: String
        var bytes: Int
        var lockboxes: [Lockbox]
        var hasDigests: Bool
        var files: [File]
        var keyLockbox: String?
        var keyFingerprint: String?
        var digests: Digests?
    }

    func run() throws {
        let cmd = "inspect"
        let blob = try ESMCLI.blob(file, command: cmd)
        let boxes = try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.lockboxes() }
            .sorted { ($0.number ?? Int.max) < ($1.number ?? Int.max) }
        let files = try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.filesFDT() }
        let sealedDigests = try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.sealedDigests() }
        var report = Report(
            file: file, bytes: blob.bytes.count,
            lockboxes: boxes.map {
                .init(name: $0.name, role: $0.role, fingerprint: ESMHex.encode($0.fingerprint), comment: $0.comment, encryptedSymKeyBytes: $0.encryptedSymKey.count)
            },
            hasDigests: sealedDigests != nil,
            files: (files?.names() ?? []).compactMap { n in
                (try? files?.item(named: n)).flatMap { $0 }.map { .init(name: n, comment: $0.comment, bytes: $0.ciphertext.count) }
            })
        if let key {
            let k = try ESMCLI.privateKey(key, command: cmd)
            let (master, lockbox) = try ESMCLI.run(cmd, key) { () throws(ESMError) in try blob.masterKeyAndLockbox(using: k) }
            report.keyLockbox = lockbox
            report.keyFingerprint = ESMHex.encode(k.fingerprint)
            if sealedDigests != nil {
                let d = try ESMCLI.run(cmd, file) { () throws(ESMError) in try blob.digests(masterKey: master) }
                report.digests = .init(
                    algorithm: d.algorithm, rtas: ESMHex.encode(d.rtas), kernel: ESMHex.encode(d.kernel), initrd: ESMHex.encode(d.initrd),
                    bootargs: ESMHex.encode(d.bootargs), kernelSize: d.kernelSize, rtasIsSLOFStub: ESMHex.encode(d.rtas) == ESMDigests.slofRTASDigestHex)
            }
            for i in report.files.indices {
                report.files[i].decrypts = (try? blob.extract(report.files[i].name, masterKey: master)) != nil
            }
        }
        if json {
            ESMCLI.stdout(ESMCLI.json(report))
            return
        }
        var out = "ESM blob \(file) (\(report.bytes) bytes)\nlockboxes:\n"
        for b in report.lockboxes {
            out += "  \(b.role.padding(toLength: 10, withPad: " ", startingAt: 0)) \(b.name.padding(toLength: 15, withPad: " ", startingAt: 0)) \(b.fingerprint)  \(b.comment.debugDescription)\n"
        }
        if let s = sealedDigests {
            out += "digests: \(ESMBlob.digestsPath) (\(s.algorithm), \(s.ciphertext.count)-byte ciphertext)\n"
        } else {
            out += "digests: none (the Ultravisor will refuse this blob)\n"
        }
        out += "files: \(report.files.count)\n"
        for f in report.files {
            let state = f.decrypts.map { $0 ? "  decrypts" : "  DOES NOT DECRYPT" } ?? ""
            out += "  \(f.name.padding(toLength: 31, withPad: " ", startingAt: 0)) \(f.bytes) bytes  \(f.comment.debugDescription)\(state)\n"
        }
        if let lockbox = report.keyLockbox, let fp = report.keyFingerprint {
            out += "key \(key ?? "") (fingerprint \(fp)) opens \(lockbox)\n"
        }
        if let d = report.digests {
            out += "digests (\(d.algorithm)):\n"
            out += "  rtas        \(d.rtas)\(d.rtasIsSLOFStub ? " (SLOF's 20-byte RTAS stub)" : "")\n"
            out += "  kernel      \(d.kernel)\n  kernel-size \(d.kernelSize)\n  initrd      \(d.initrd)\n  bootargs    \(d.bootargs)\n"
        }
        ESMCLI.stdout(out)
    }
}
