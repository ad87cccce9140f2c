import ESM
import Foundation
import ProcessTestSupport
import Testing

/// Keys shared by every ESM test: RSA-2048 generation costs up to a second, so each key
/// is made once per test run.
enum ESMTestKeys {
    static let owner: ESMPrivateKey = make()
    static let tpm: ESMPrivateKey = make()
    static let other: ESMPrivateKey = make()

    private static func make() -> ESMPrivateKey {
        do { return try ESMPrivateKey.generate() } catch { fatalError("test key generation failed: \(error)") }
    }
}

/// A small guest: kernel, initrd, command line, and a blob for them.
struct ESMTestGuest {
    var kernel: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    var initrd: [UInt8] = Array("070701 pretend initramfs contents\n".utf8) + [UInt8](repeating: 0x5A, count: 3000)
    var bootargs = "svm=on console=hvc0  root=/dev/sda2"
    var masterKey = ESMMasterKey.random()

    /// A blob with origin = owner, lockbox-1 = TPM key, digests, and one attachment.
    func blob(attachments: [(String, [UInt8])] = [("rootd", Array("passphrase-1".utf8))]) throws -> ESMBlob {
        var b = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, comment: "owner", masterKey: masterKey)
        try b.authorize(ESMTestKeys.tpm.publicKey, comment: "tpm", masterKey: masterKey)
        try b.setDigests(ESMDigests(kernel: kernel, initrd: initrd, bootargs: bootargs), masterKey: masterKey)
        for (name, data) in attachments { try b.attach(name: name, contents: data, masterKey: masterKey) }
        return b
    }

    var bootargsProperty: [UInt8] { Array(bootargs.utf8) + [0] }

    /// The integrity check with RSA unwrap by `key`.
    func check(
        blob: [UInt8], key: ESMPrivateKey = ESMTestKeys.tpm, kernel: [UInt8]? = nil, initrd: [UInt8]? = nil,
        bootargsProperty: [UInt8]? = nil, rtas: [UInt8] = ESMDigests.slofRTASStub
    ) -> ESMIntegrityReport {
        let k = kernel ?? self.kernel
        return ESMIntegrityCheck.run(
            blob: blob, unwrapMasterKey: { try key.decrypt($0) }, rtasText: rtas,
            readKernel: { $0 <= k.count ? Array(k.prefix($0)) : nil }, initrd: initrd ?? self.initrd,
            bootargsProperty: bootargsProperty ?? self.bootargsProperty)
    }
}

/// Runs `dtc -I dtb -O dts` over `bytes`; returns (exit status, stderr).
func esmRunDTC(_ bytes: [UInt8]) async throws -> (Int32, String) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("esm-dtc-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("blob.dtb")
    try Data(bytes).write(to: file)
    let r = try await ChildProcess.run("dtc", ["-I", "dtb", "-O", "dts", "-o", "/dev/null", file.path])
    return (r.status, r.stderrText)
}

/// Whether an executable is on PATH.
func esmToolExists(_ name: String) -> Bool {
    (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/\(name)")
    }
}
