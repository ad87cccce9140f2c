import DeviceTree
import ESM
import FuzzSupport

/// libFuzzer's entry point for the `esm-blob` target. The first byte picks what the
/// rest is (modulo 3):
///
/// - 0: an ESM blob, read and checked as `svmkit esm` and the Ultravisor's UV_ESM do;
/// - 1: a digests FDT, sealed with the fixed master key into a valid blob, so the
///   integrity check reaches the decrypted digests whatever the bytes are;
/// - 2: a files FDT, read and decrypted as UV_ESMB_GET_FILE does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzESMBlob(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ESMBlobFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// Writes the seeds (`Scripts/fuzz esm-blob --write-seeds`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzESMBlobInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: FuzzArgv?) -> Int32 {
    fuzzWriteSeedsIfAsked(ESMBlobFuzzer.seeds)
    return 0
}

/// What the `esm-blob` target checks: every parser and decryption path throws its
/// typed error (``ESMError``, ``ESMFileLookupError``) or succeeds, never crashes; a
/// blob that validates re-reads from its own bytes; the integrity report is
/// consistent (a check list, the last one failed when it stopped early, `passed` only
/// when every check passed). The master key is fixed, so seeds made with it reach the
/// decrypted digests and files; the Ultravisor's TPM unwrap is replaced by a function
/// returning that key (the TPM has its own target).
enum ESMBlobFuzzer {
    /// The fixed master key (32 bytes).
    static let keyBytes: [UInt8] = (1...32).map { UInt8($0) }
    static let key: ESMMasterKey = {
        do { return try ESMMasterKey(bytes: keyBytes) } catch { fuzzFail("fixed master key: \(error)") }
    }()
    /// The guest the digests describe (what the seeds' digests match).
    static let kernel: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let initrd: [UInt8] = Array("initrd contents".utf8)
    static let bootargs = "svm=on console=hvc0"
    /// A blob with lockboxes and one attachment but no digests, made once; mode 1
    /// adds the fuzzed digests FDT to a copy.
    static let baseBlob: [UInt8] = {
        do { return try makeBlob(digests: nil).bytes } catch { fuzzFail("base blob: \(error)") }
    }()

    static func run(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        switch mode % 3 {
        case 0: checkBlob(rest)
        case 1: checkSealedDigests(rest)
        default: checkFilesFDT(rest)
        }
    }

    // MARK: Mode 0: a blob

    static func checkBlob(_ bytes: [UInt8]) {
        checkIntegrity(blob: bytes)
        _ = ESMFilesFDT.ultravisorCopy(fromBlob: bytes)
        let blob: ESMBlob
        do {
            blob = try ESMBlob(bytes: bytes)
        } catch {
            fuzzRequire(!error.message.isEmpty, "ESMError without a message (\(error.kind))")
            return
        }
        do {
            let again = try ESMBlob(bytes: blob.bytes)
            fuzzRequire(again == blob, "a blob re-read from its own bytes differs")
        } catch {
            fuzzFail("a valid blob's own bytes do not validate: \(error)")
        }
        if let boxes = try? blob.lockboxes() {
            for box in boxes.prefix(8) {
                _ = box.number
                _ = box.role
                fuzzRequire((try? blob.lockbox(named: box.name)) == box, "lockbox(named: \(box.name)) differs from lockboxes()")
            }
        }
        _ = try? blob.sealedDigests()
        if let digests = try? blob.digests(masterKey: key) { _ = try? digests.deviceTree() }
        if let names = try? blob.attachmentNames() {
            for name in names.prefix(8) { _ = try? blob.extract(name, masterKey: key) }
        }
    }

    /// Runs the Ultravisor's check with the fixed key and checks the report's shape.
    static func checkIntegrity(blob: [UInt8]) {
        let report = ESMIntegrityCheck.run(
            blob: blob, unwrapMasterKey: { _ in keyBytes }, rtasText: ESMDigests.slofRTASStub,
            readKernel: { n in n <= kernel.count ? Array(kernel.prefix(n)) : nil }, initrd: initrd,
            bootargsProperty: Array(bootargs.utf8) + [0])
        fuzzRequire(!report.checks.isEmpty, "an integrity report without checks")
        if report.stoppedEarly { fuzzRequire(report.checks.last?.passed == false, "stopped early after a passing check") }
        fuzzRequire(report.passed == (!report.stoppedEarly && report.checks.allSatisfy(\.passed)), "passed disagrees with the checks")
        let known: Set<String> = ["lockbox-1", "digests-fdt", "rtas", "kernel", "initrd", "bootargs"]
        for c in report.checks { fuzzRequire(known.contains(c.name) && !c.detail.isEmpty, "check \(c.name): \(c.detail)") }
        _ = report.summary
        if let files = report.filesFDT {
            for name in ["rootd", "", "a/b"] { _ = ESMFilesFDT.ultravisorDecrypt(filesFDT: files, name: name, masterKey: keyBytes) }
        }
    }

    // MARK: Mode 1: a digests FDT behind the crypto

    static func checkSealedDigests(_ plaintext: [UInt8]) {
        _ = try? ESMDigests(deviceTreeBytes: plaintext)
        guard var tree = try? DeviceTree(bytes: baseBlob) else { fuzzFail("the base blob does not open") }
        let sealed: ESMSealedItem
        do { sealed = try ESMSealedItem.seal(plaintext, masterKey: key, iv: [UInt8](repeating: 7, count: 16)) } catch { return }
        do {
            try tree.ensureNode(ESMBlob.digestsPath)
            for (name, value) in [("algorithm", Array("AES256-GCM".utf8) + [0]), ("iv", sealed.iv), ("mac", sealed.mac),
                                  ("ciphertext", sealed.ciphertext)] {
                try tree.setProperty(name, value, at: ESMBlob.digestsPath)
            }
        } catch {
            fuzzFail("cannot add a digests node to the base blob: \(error)")
        }
        checkIntegrity(blob: tree.bytes)
        if let blob = try? ESMBlob(bytes: tree.bytes) {
            let opened = try? blob.digests(masterKey: key)
            if let opened { _ = try? opened.deviceTree() }
        }
    }

    // MARK: Mode 2: a files FDT

    static func checkFilesFDT(_ bytes: [UInt8]) {
        if let files = try? ESMFilesFDT(bytes: bytes) {
            for name in files.names().prefix(8) {
                _ = try? files.item(named: name)
                let mine = try? files.decrypt(name, masterKey: key)
                let uv = try? ESMFilesFDT.ultravisorDecrypt(filesFDT: bytes, name: name, masterKey: keyBytes).get()
                if let mine, mine.count < ESMFilesFDT.maximumFileSize {
                    fuzzRequire(uv == nil || uv == mine, "\(name): the Ultravisor's decryption differs from svmkit's")
                }
            }
        }
        for name in ["rootd", "", "x"] { _ = ESMFilesFDT.ultravisorDecrypt(filesFDT: bytes, name: name, masterKey: keyBytes) }
    }

    // MARK: Seeds

    static func makeBlob(digests: ESMDigests?) throws -> ESMBlob {
        // A fixed public key file: the blob keeps only its fingerprint and a lockbox
        // the fuzz target never opens (the unwrap is replaced), so any key will do.
        let owner = try ESMPrivateKey.generate()
        var blob = try ESMBlob.create(origin: owner.publicKey, comment: "owner", masterKey: key)
        _ = try blob.authorize(try ESMPrivateKey.generate().publicKey, comment: "tpm", masterKey: key)
        if let digests { try blob.setDigests(digests, masterKey: key) }
        try blob.attach(name: "rootd", contents: Array("passphrase".utf8), masterKey: key)
        return blob
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        do {
            let digests = try ESMDigests(kernel: kernel, initrd: initrd, bootargs: bootargs)
            let blob = try makeBlob(digests: digests)
            return [
                ("blob-valid", [0] + blob.bytes),
                ("digests", [1] + (try digests.deviceTree().bytes)),
                ("files", [2] + (blob.filesFDTBytes ?? [])),
            ]
        } catch {
            fuzzFail("seeds: \(error)")
        }
    }
}
