import DeviceTree

/// The Ultravisor's integrity check of a guest against its ESM blob, shared by
/// `svmkit esm verify` (with a private key) and the simulated Ultravisor's UV_ESM (with
/// the TPM).
///
/// Models `svm_esmb_digest_chk()` in `open-power/ultravisor svm/svm-esmb.c`
/// (reference/ultravisor-facts.md §2.6 step 6), in its order:
///
/// 1. `lockbox-1`: `/lockboxes/lockbox-1` `encrypted-symkey` goes to the unwrap function
///    (only this lockbox; never `origin-lockbox` or another `lockbox-N`);
/// 2. `digests-fdt`: `/digest/digests-fdt` needs `algorithm` (not read), `iv`, `mac` and
///    `ciphertext`, and is decrypted with AES-GCM under the unwrapped key;
/// 3. `rtas`: SHA-512 of the RTAS text `[linux,rtas-base, + slof,rtas-size)`;
/// 4. `kernel`: `kernel` and `kernel-size` are read, then `[kbase, + kernel-size)` is
///    paged in (the `readKernel` argument of ``run(blob:unwrapMasterKey:rtasText:readKernel:initrd:bootargsProperty:)``)
///    and hashed;
/// 5. `initrd`: SHA-512 of the hashed initrd range (after the blob's cpio);
/// 6. `bootargs`: SHA-512 of the `/chosen/bootargs` property without its last byte (NUL).
///
/// A missing node or property, a failed unwrap, decrypt or page-in stops the check at
/// once (the firmware's `goto out`); a digest mismatch is counted and the remaining
/// checks still run. Unlike the firmware, each result says exactly why.
///
/// One deliberate difference: a digests FDT larger than the Ultravisor's 4096-byte
/// buffer fails here, where the firmware would write past its buffer.
public enum ESMIntegrityCheck {
    /// The size of `buf_digest` in `struct svm_esmb`, the decrypted digests FDT's buffer.
    public static let digestBufferSize = 4096

    /// Runs every check.
    ///
    /// - Parameters:
    ///   - blob: the ESM blob bytes (as found by ``ESMBlobLocator`` or the wrapper path).
    ///   - unwrapMasterKey: turns `lockbox-1`'s `encrypted-symkey` into the master key
    ///     (RSA with a private key for `verify`, the TPM over `H_TPM_COMM` in the
    ///     Ultravisor). A thrown error fails the `lockbox-1` check with its description.
    ///   - rtasText: the guest bytes `[linux,rtas-base, + slof,rtas-size)`.
    ///   - readKernel: called once with `kernel-size`; returns the bytes at
    ///     `[kbase, + size)`, or `nil` if they cannot be paged in.
    ///   - initrd: the hashed initrd range (``ESMBlobLocation/hashedRange``).
    ///   - bootargsProperty: the raw `/chosen/bootargs` property, NUL included.
    /// - Returns: every check that ran with its reason, the master key and decrypted
    ///   digests when they were reached, and the blob's files FDT (for UV_ESMB_GET_FILE,
    ///   decrypt with ``ESMFilesFDT/ultravisorDecrypt(filesFDT:name:masterKey:)``).
    public static func run(
        blob: [UInt8],
        unwrapMasterKey: ([UInt8]) throws -> [UInt8],
        rtasText: [UInt8],
        readKernel: (Int) -> [UInt8]?,
        initrd: [UInt8],
        bootargsProperty: [UInt8]
    ) -> ESMIntegrityReport {
        var checks: [ESMCheck] = []
        var filesFDT: [UInt8]?
        func stop(_ name: String, _ detail: String, key: [UInt8]? = nil, fdt: [UInt8]? = nil) -> ESMIntegrityReport {
            checks.append(ESMCheck(name: name, passed: false, detail: detail))
            return ESMIntegrityReport(checks: checks, stoppedEarly: true, masterKey: key, digestsFDT: fdt, filesFDT: filesFDT)
        }

        // 1. lockbox-1 → master key.
        let tree: DeviceTree
        do { tree = try DeviceTree(bytes: blob) } catch {
            return stop("lockbox-1", "the ESM blob is not a valid device tree: \(error)")
        }
        // Step 5 of svm_esm_blob_chk: the files FDT is copied before the digest check.
        filesFDT = tree.propertyIfPresent("files-fdt", at: ESMBlob.filePath)
        let lockbox = ESMBlob.lockboxesPath + "/" + ESMBlob.ultravisorLockboxName
        guard tree.hasNode(ESMBlob.lockboxesPath) else { return stop("lockbox-1", "the blob has no \(ESMBlob.lockboxesPath) node") }
        guard tree.hasNode(lockbox) else {
            return stop("lockbox-1", "node \(lockbox) not found: the Ultravisor opens only lockbox-1, which must hold the TPM's key")
        }
        guard let wrapped = tree.propertyIfPresent("encrypted-symkey", at: lockbox) else {
            return stop("lockbox-1", "missing property \(lockbox)/encrypted-symkey")
        }
        let key: [UInt8]
        do { key = try unwrapMasterKey(wrapped) } catch {
            return stop("lockbox-1", "unwrapping \(lockbox)/encrypted-symkey (\(wrapped.count) bytes) failed: \(error)")
        }
        checks.append(ESMCheck(name: "lockbox-1", passed: true, detail: "unwrapped \(lockbox): \(key.count)-byte master key"))

        // 2. Digests FDT.
        let dpath = ESMBlob.digestsPath
        guard tree.hasNode(dpath) else { return stop("digests-fdt", "node \(dpath) not found: the blob has no digests", key: key) }
        var parts: [String: [UInt8]] = [:]
        for name in ["algorithm", "iv", "mac", "ciphertext"] {
            guard let v = tree.propertyIfPresent(name, at: dpath) else {
                return stop("digests-fdt", "missing property \(dpath)/\(name)", key: key)
            }
            parts[name] = v
        }
        let plaintext: [UInt8]
        do {
            plaintext = try ESMCrypto.gcmOpen(
                ciphertext: parts["ciphertext"] ?? [], key: key, iv: parts["iv"] ?? [], tag: parts["mac"] ?? [], what: dpath)
        } catch {
            return stop("digests-fdt", error.message, key: key)
        }
        guard plaintext.count <= digestBufferSize else {
            return stop(
                "digests-fdt", "decrypted \(dpath) is \(plaintext.count) bytes, more than the Ultravisor's \(digestBufferSize)-byte buffer",
                key: key, fdt: plaintext)
        }
        let digestsTree: DeviceTree
        do { digestsTree = try DeviceTree(bytes: plaintext) } catch {
            return stop("digests-fdt", "decrypted \(dpath) is not a valid device tree: \(error)", key: key, fdt: plaintext)
        }
        checks.append(ESMCheck(name: "digests-fdt", passed: true, detail: "decrypted \(dpath): \(plaintext.count)-byte digests FDT"))
        var report = ESMIntegrityReport(
            checks: [], stoppedEarly: false, masterKey: key, digestsFDT: plaintext,
            digests: try? ESMDigests(deviceTreeBytes: plaintext), filesFDT: filesFDT)
        func finish(stopped: Bool) -> ESMIntegrityReport {
            report.checks = checks
            report.stoppedEarly = stopped
            return report
        }
        func missing(_ check: String, _ prop: String) -> ESMIntegrityReport {
            checks.append(ESMCheck(name: check, passed: false, detail: "missing property /digests/\(prop) in the digests FDT"))
            return finish(stopped: true)
        }
        func compare(_ check: String, expected: [UInt8], data: [UInt8], what: String) {
            let actual = ESMCrypto.sha512(data)
            let e = ESMHex.encode(expected), a = ESMHex.encode(actual)
            if expected.count != 64 {
                checks.append(ESMCheck(name: check, passed: false, detail: "the blob's \(check) digest is \(expected.count) bytes, not a 64-byte SHA-512; \(what)", expected: e, actual: a))
            } else if expected == actual {
                checks.append(ESMCheck(name: check, passed: true, detail: "SHA-512 of \(what) matches", expected: e, actual: a))
            } else {
                checks.append(ESMCheck(name: check, passed: false, detail: "SHA-512 of \(what) does not match: expected \(e), actual \(a)", expected: e, actual: a))
            }
        }

        // 3. RTAS.
        guard let rtas = digestsTree.propertyIfPresent("rtas", at: "/digests") else { return missing("rtas", "rtas") }
        compare("rtas", expected: rtas, data: rtasText, what: "the \(rtasText.count)-byte RTAS text (slof,rtas-size from linux,rtas-base)")

        // 4. Kernel.
        guard let kernelDigest = digestsTree.propertyIfPresent("kernel", at: "/digests") else { return missing("kernel", "kernel") }
        guard let sizeBytes = digestsTree.propertyIfPresent("kernel-size", at: "/digests") else { return missing("kernel", "kernel-size") }
        guard sizeBytes.count == 4 else {
            checks.append(ESMCheck(name: "kernel", passed: false, detail: "/digests/kernel-size is \(sizeBytes.count) bytes, not a 32-bit cell"))
            return finish(stopped: true)
        }
        let kernelSize = Int(BigEndianCells.u32(sizeBytes, at: 0))
        guard let kernel = readKernel(kernelSize), kernel.count == kernelSize else {
            checks.append(ESMCheck(name: "kernel", passed: false, detail: "the kernel range [kbase, kbase + \(kernelSize)) from kernel-size could not be paged in"))
            return finish(stopped: true)
        }
        compare("kernel", expected: kernelDigest, data: kernel, what: "the kernel [kbase, kbase + \(kernelSize)) (kernel-size \(kernelSize))")

        // 5. initrd.
        guard let initrdDigest = digestsTree.propertyIfPresent("initrd", at: "/digests") else { return missing("initrd", "initrd") }
        compare("initrd", expected: initrdDigest, data: initrd, what: "the \(initrd.count)-byte initrd after the ESM blob archive")

        // 6. bootargs.
        guard let bootDigest = digestsTree.propertyIfPresent("bootargs", at: "/digests") else { return missing("bootargs", "bootargs") }
        guard let last = bootargsProperty.last else {
            checks.append(ESMCheck(name: "bootargs", passed: false, detail: "/chosen/bootargs is empty (the Ultravisor expects a NUL-terminated string)"))
            return finish(stopped: true)
        }
        let args = Array(bootargsProperty.dropLast())
        let text = String(decoding: args, as: UTF8.self)
        compare(
            "bootargs", expected: bootDigest, data: args,
            what: "the \(args.count)-byte command line \(text.debugDescription)" + (last == 0 ? "" : " (the property's last byte is not NUL, yet the Ultravisor drops it)"))
        return finish(stopped: false)
    }

    /// An unwrap function backed by a private key, for `svmkit esm verify`: it decrypts
    /// `lockbox-1` if the key is the TPM's; otherwise, if the key is the owner's (it opens
    /// `origin-lockbox`), it returns the master key from there (the same key), so the
    /// digests can still be checked. A key that opens only another recipient's
    /// `lockbox-N` fails, as a TPM holding that key fails at `UV_ESM`: the Ultravisor
    /// opens only `lockbox-1`, so `verify` and the boot reach the same verdict.
    /// - Throws (from the function): ``ESMError`` `.notAuthorized`, "not an authorized
    ///   key", or naming the lockbox the key opens instead of `lockbox-1`.
    public static func keyUnwrapper(privateKey: ESMPrivateKey, blob: ESMBlob) -> ([UInt8]) throws -> [UInt8] {
        { wrapped in
            if let plain = try? privateKey.decrypt(wrapped) { return plain }
            let opened = try blob.masterKeyAndLockbox(using: privateKey)
            guard opened.lockbox == "origin-lockbox" else {
                throw ESMError(
                    .notAuthorized,
                    "this key opens \(opened.lockbox), not \(ESMBlob.ultravisorLockboxName): the Ultravisor opens only \(ESMBlob.ultravisorLockboxName), so a TPM holding this key fails UV_ESM")
            }
            return opened.key.bytes
        }
    }
}
