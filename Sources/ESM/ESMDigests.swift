import DeviceTree

/// The digests the Ultravisor checks before it lets a guest go secure: the plaintext of
/// `/digest/digests-fdt` (reference/ultravisor-facts.md §3.4, §2.6 step 6).
///
/// As an FDT: `/compatible` = `"ibm,esm"`; `/digests` holds `algorithm` = `"SHA512"`,
/// `rtas`, `kernel`, `kernel-size` (4 bytes, big-endian), `initrd` and `bootargs`,
/// each digest being SHA-512 (64 bytes).
public struct ESMDigests: Sendable, Hashable {
    /// The 20 bytes of SLOF's hv-RTAS stub (`mr r4,r3; lis r3,0; ori r3,r3,0xf000;
    /// sc 1; blr`), the RTAS text the Ultravisor hashes when `slof,rtas-size` is 20.
    public static let slofRTASStub: [UInt8] = [
        0x7C, 0x64, 0x1B, 0x78, 0x3C, 0x60, 0x00, 0x00, 0x60, 0x63, 0xF0, 0x00, 0x44, 0x00, 0x00, 0x22,
        0x4E, 0x80, 0x00, 0x20,
    ]

    /// svm-tool's hard-coded `rtas` digest (`rtas_sha512_txt` in `esm_digest/rtas_sha512.py`);
    /// it equals SHA-512 of ``slofRTASStub`` (checked by a known-answer test).
    public static let slofRTASDigestHex =
        "189698638580422ea58a0968ecce2436daeb2c91a339c14b0ab2bc623c1649fe"
        + "274074a4a92679dc61e5528d68778ba3c82f1b1f7e9a5958238b80497fc37f48"

    /// `algorithm` of `/digests` (`"SHA512"`; the Ultravisor does not read it).
    public var algorithm: String
    /// SHA-512 of the RTAS text (`[linux,rtas-base, + slof,rtas-size)`).
    public var rtas: [UInt8]
    /// SHA-512 of the kernel image (`objcopy -O binary -S vmlinux`).
    public var kernel: [UInt8]
    /// The kernel image's byte length; the Ultravisor pages in `[kbase, kbase + kernelSize)`.
    public var kernelSize: UInt32
    /// SHA-512 of the original initrd (before the ESM cpio is put in front of it).
    public var initrd: [UInt8]
    /// SHA-512 of the command line as UTF-8, without a NUL.
    public var bootargs: [UInt8]

    /// Makes digests from their values.
    public init(algorithm: String = "SHA512", rtas: [UInt8], kernel: [UInt8], kernelSize: UInt32, initrd: [UInt8], bootargs: [UInt8]) {
        self.algorithm = algorithm
        self.rtas = rtas
        self.kernel = kernel
        self.kernelSize = kernelSize
        self.initrd = initrd
        self.bootargs = bootargs
    }

    /// Computes the digests as svm-tool's `esm digest` does: the kernel bytes (already
    /// the raw `objcopy -O binary` image) and their length, the original initrd, the
    /// command line without NUL, and the RTAS text (by default the SLOF stub, giving
    /// svm-tool's constant).
    /// - Throws: `.tooLarge` if the kernel is 4 GiB or more (`kernel-size` is 32 bits).
    public init(kernel: [UInt8], initrd: [UInt8], bootargs: String, rtasText: [UInt8] = ESMDigests.slofRTASStub) throws(ESMError) {
        guard let size = UInt32(exactly: kernel.count) else {
            throw ESMError(.tooLarge, "kernel is \(kernel.count) bytes; kernel-size is a 32-bit value")
        }
        self.init(
            rtas: ESMCrypto.sha512(rtasText), kernel: ESMCrypto.sha512(kernel), kernelSize: size,
            initrd: ESMCrypto.sha512(initrd), bootargs: ESMCrypto.sha512(Array(bootargs.utf8)))
    }

    /// SHA-512 of `bytes`, the hash every digest uses.
    public static func sha512(_ bytes: [UInt8]) -> [UInt8] { ESMCrypto.sha512(bytes) }

    /// The digests FDT as svm-tool's `esmd_create_fdt` builds it (same libfdt calls in the
    /// same order, then packed): the plaintext that is encrypted into `/digest/digests-fdt`.
    /// libfdt stores each new property first, so `/digests` reads back `bootargs`,
    /// `initrd`, `kernel-size`, `kernel`, `rtas`, `algorithm`, as in svm-tool's blobs.
    public func deviceTree() throws(ESMError) -> DeviceTree {
        var t = DeviceTree()
        do {
            try t.setString("compatible", "ibm,esm", at: "/")
            try t.addNode("digests", under: "/")
            try t.setString("algorithm", algorithm, at: "/digests")
            try t.setProperty("rtas", rtas, at: "/digests")
            try t.setProperty("kernel", kernel, at: "/digests")
            try t.setU32("kernel-size", kernelSize, at: "/digests")
            try t.setProperty("initrd", initrd, at: "/digests")
            try t.setProperty("bootargs", bootargs, at: "/digests")
            try t.pack()
        } catch {
            throw ESMError.fdt(error, "building the digests FDT")
        }
        return t
    }

    /// Reads a decrypted digests FDT.
    /// - Throws: `.malformedDeviceTree` for bytes libfdt refuses, `.notFound` naming a
    ///   missing `/digests` property, `.invalidBlob` for a `kernel-size` that is not 4 bytes.
    public init(deviceTreeBytes bytes: [UInt8]) throws(ESMError) {
        let t: DeviceTree
        do { t = try DeviceTree(bytes: bytes) } catch { throw ESMError.fdt(error, "digests FDT") }
        func prop(_ name: String) throws(ESMError) -> [UInt8] {
            guard let v = t.propertyIfPresent(name, at: "/digests") else {
                throw ESMError(.notFound, "digests FDT: missing property /digests/\(name)")
            }
            return v
        }
        let sizeBytes = try prop("kernel-size")
        guard sizeBytes.count == 4 else {
            throw ESMError(.invalidBlob, "digests FDT: /digests/kernel-size is \(sizeBytes.count) bytes, expected 4")
        }
        self.init(
            algorithm: t.propertyIfPresent("algorithm", at: "/digests").map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } ?? "",
            rtas: try prop("rtas"), kernel: try prop("kernel"), kernelSize: BigEndianCells.u32(sizeBytes, at: 0),
            initrd: try prop("initrd"), bootargs: try prop("bootargs"))
    }
}
