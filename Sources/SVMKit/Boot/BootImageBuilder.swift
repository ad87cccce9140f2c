import DeviceTree
import ESM
import PowerABI
import TPM

/// Lays out a ``BootImage`` from a ``BootConfiguration``, filling in whatever was
/// not given, and placing things where QEMU and SLOF would:
///
/// - the kernel at `kbase` (`--kbase`, else `/chosen/qemu,boot-kernel`, else 0x400000,
///   QEMU 7.2's load address);
/// - the initrd at ALIGN(kbase + kernel size + 0x1ffff, 64 KiB), QEMU's rule (seen in
///   the `-kernel/-initrd` dump: kernel 0x400000 + 0x80, initrd at 0x420000), with
///   `linux,initrd-start/-end` and reserve-map entries for both;
/// - SLOF's 20-byte hv-RTAS stub at `linux,rtas-base` = RMO top − 2 MiB with
///   `slof,rtas-size` = 20 (reference/ultravisor-facts.md §3.4, §6 last paragraph);
/// - the device tree at RMO top − 4 MiB, below the pages the Ultravisor reserves
///   just under the RMO top (§2.5), where RMO top = min(RAM, 768 MiB).
public enum BootImageBuilder {
    /// QEMU 7.2's kernel load address.
    public static let defaultKernelBase: UInt64 = 0x40_0000
    /// The Ultravisor caps the RMO at 768 MiB (§2.5).
    public static let rmoCap: UInt64 = 768 << 20
    /// The smallest RAM SVMKit boots: 256 MiB.
    public static let minimumMemory: UInt64 = 256 << 20
    /// The RTAS area's offset below the RMO top.
    public static let rtasOffsetBelowRMOTop: UInt64 = 2 << 20
    /// The device tree's offset below the RMO top.
    public static let fdtOffsetBelowRMOTop: UInt64 = 4 << 20

    /// Builds the image.
    /// - Throws: ``BootError`` naming the option or file that is wrong.
    public static func build(_ c: BootConfiguration) throws(BootError) -> BootImage {
        // Machine shape: from the device tree when given.
        var source: DeviceTree? = nil
        var memory = c.memoryBytes
        var cpus = c.cpuCount
        if let bytes = c.deviceTree {
            let t: DeviceTree
            do { t = try DeviceTree(bytes: bytes) } catch { throw BootError(input: "--fdt", "not a valid device tree: \(error)") }
            (memory, cpus) = try shape(of: t)
            source = t
        }
        // With --fdt, memory and vCPUs come from the tree: blame it, not --memory/--cpus.
        let memoryInput = source == nil ? "--memory \(memory)" : "--fdt /memory@0 reg (\(memory) bytes)"
        let cpuInput = source == nil ? "--cpus \(cpus)" : "--fdt cpu nodes (\(cpus) threads)"
        guard memory >= minimumMemory, memory % PageSize.bytes == 0 else {
            throw BootError(input: memoryInput, "guest RAM must be a multiple of 64 KiB and at least 256 MiB")
        }
        guard (1...PseriesTreeOptions.maximumCPUCount).contains(cpus) else {
            throw BootError(input: cpuInput, "the vCPU count must be 1 to \(PseriesTreeOptions.maximumCPUCount)")
        }
        let treeKernelBase = source.flatMap(bootKernelAddress(of:))
        let kbase = c.kernelBase ?? treeKernelBase ?? defaultKernelBase
        let kbaseInput = c.kernelBase == nil && treeKernelBase != nil ? "--fdt /chosen/qemu,boot-kernel" : "--kbase"
        guard kbase != 0, kbase % 0x1_0000 == 0 else {
            throw BootError(input: "\(kbaseInput) 0x\(String(kbase, radix: 16))", "the kernel base must be a non-zero multiple of 64 KiB")
        }
        guard kbase < memory else {
            throw BootError(
                input: "\(kbaseInput) 0x\(String(kbase, radix: 16))",
                "the kernel base is outside the guest's \(memory >> 20) MiB of RAM; it must be below the device tree at the RMO top minus 4 MiB")
        }

        // Content.
        let (tpmKeyPEM, tpmPublicKeyPEM) = try tpmKeys(c)
        let kernel = c.kernel ?? DefaultGuestContent.kernel()
        guard !kernel.isEmpty else { throw BootError(input: "--kernel", "the kernel image is empty") }
        var attachments: [String: [UInt8]] = [:]
        var generated = false
        let initrd: [UInt8]
        if let wrapper = c.wrapperBlob {
            // As `svmkit esm verify --blob` rejects it: not a blob at all is bad input.
            guard ESMWrapperBlob.blob(in: wrapper) != nil else {
                throw BootError(
                    input: "--esm", "does not start with a device tree (magic 0xd00dfeed) whose totalsize fits in its \(wrapper.count) bytes: not an ESM blob")
            }
            initrd = c.initrd ?? DefaultGuestContent.initrd()
        } else if let given = c.initrd, declaresBlobArchive(given) {
            // An initrd that carries an opt/ibm/pef archive is booted as it is: a blob
            // that cannot be found in it is an error, never silently replaced.
            do { _ = try ESMBlobLocator.locate(inInitrd: given) } catch {
                throw BootError(
                    input: "--initrd",
                    "it starts with an \(ESMBlobLocator.pefPrefix) archive, but its ESM blob is damaged: \(error.message) (rebuild it with svmkit esm add-to-initrd, or give the initrd without the archive and SVMKit makes a blob)")
            }
            initrd = given
        } else {
            let base = c.initrd ?? DefaultGuestContent.initrd()
            let rootd = DefaultGuestContent.rootPassphrase()
            let blob = try makeBlob(
                tpmPublicKeyPEM: tpmPublicKeyPEM, kernel: kernel, initrd: base, commandLine: c.commandLine, attachments: ["rootd": rootd])
            attachments["rootd"] = rootd
            generated = true
            do { initrd = try ESMInitrd.addBlob(blob, to: base) } catch { throw BootError(input: "initrd", "\(error)") }
        }

        // Layout.
        let rmoTop = min(memory, rmoCap)
        let fdtAddress = rmoTop - fdtOffsetBelowRMOTop
        let rtasBase = rmoTop - rtasOffsetBelowRMOTop
        // kbase < memory <= 2^64 - 2^16 and the images are under 768 MiB each (the CLI's
        // read limit; a library caller may give more): checked sums, no wrap-around.
        guard let initrdAddress = alignedEnd(kbase, kernel.count, plus: 0x1_FFFF),
            alignedEnd(initrdAddress, initrd.count, plus: 0) != nil
        else {
            throw BootError(input: "--kernel/--initrd", "the images do not fit in the 64-bit address space above kbase 0x\(String(kbase, radix: 16))")
        }
        var segments = [
            BootImage.Segment(name: "kernel", address: GuestPhysicalAddress(kbase), bytes: kernel),
            BootImage.Segment(name: "initrd", address: GuestPhysicalAddress(initrdAddress), bytes: initrd),
        ]
        if let blob = c.wrapperBlob {
            guard let at = alignedEnd(initrdAddress, initrd.count, plus: 0xFFFF), alignedEnd(at, blob.count, plus: 0) != nil else {
                throw BootError(input: "--esm", "the blob does not fit in the 64-bit address space after the initrd")
            }
            segments.append(BootImage.Segment(name: "esm-blob", address: GuestPhysicalAddress(at), bytes: blob))
        }
        let highest = segments.map(\.end.rawValue).max() ?? 0
        guard highest <= fdtAddress else {
            throw BootError(
                input: "--kernel/--initrd",
                "the images end at 0x\(String(highest, radix: 16)), past the device tree at 0x\(String(fdtAddress, radix: 16)) (RMO top 0x\(String(rmoTop, radix: 16)) minus 4 MiB); give more memory or smaller images")
        }
        segments.append(BootImage.Segment(name: "rtas", address: GuestPhysicalAddress(rtasBase), bytes: ESMDigests.slofRTASStub))

        // Device tree.
        var tree: DeviceTree
        let kernelRegion = DeviceTreeRegion(address: kbase, size: UInt64(kernel.count))
        let initrdRegion = DeviceTreeRegion(address: initrdAddress, size: UInt64(initrd.count))
        do {
            if var t = source {
                try adopt(&t, kernel: kernelRegion, initrd: initrdRegion, commandLine: c.commandLine, rtasBase: rtasBase)
                tree = t
            } else {
                var o = PseriesTreeOptions(
                    memoryBytes: memory, cpuCount: cpus, bootargs: c.commandLine, initrd: initrdRegion, kernel: kernelRegion)
                o.rtasBase = UInt32(rtasBase)
                tree = try PseriesTreeBuilder.tree(o)
            }
            let rtasSize = UInt64((try? tree.u32("rtas-size", at: "/rtas")) ?? PseriesTreeBuilder.rtasSize(cpuCount: cpus))
            try tree.addReserveEntry(DeviceTreeRegion(address: rtasBase, size: rtasSize))
            if let blob = segments.first(where: { $0.name == "esm-blob" }) {
                try tree.setU64("linux,esm-blob-start", blob.address.rawValue, at: "/chosen")
                try tree.setU64("linux,esm-blob-end", blob.end.rawValue, at: "/chosen")
            }
            try tree.pack()
        } catch {
            throw BootError(input: c.deviceTree == nil ? "generated device tree" : "--fdt", "\(error)")
        }
        return BootImage(
            deviceTree: tree, fdtAddress: GuestPhysicalAddress(fdtAddress), kernelBase: GuestPhysicalAddress(kbase),
            segments: segments, commandLine: c.commandLine,
            memoryBytes: memory, cpuCount: cpus, tpmKeyPEM: tpmKeyPEM, tpmPublicKeyPEM: tpmPublicKeyPEM,
            generatedAttachments: attachments,
            blobWasGenerated: generated)
    }

    /// The embedded TPM's private key PEM (given or made; empty for an external TPM)
    /// and the public key PEM lockbox-1 is wrapped to.
    /// - Throws: ``BootError`` naming `--tpm-key` (unusable, or given with an external TPM).
    static func tpmKeys(_ c: BootConfiguration) throws(BootError) -> (privatePEM: String, publicPEM: String) {
        if let external = c.tpm.external {
            guard c.tpmKeyPEM == nil else {
                throw BootError(
                    input: "--tpm-key",
                    "cannot be used with --tpm \(external.label): that TPM holds the key, and lockbox-1 is wrapped to its public key (--tpm-dir)")
            }
            return ("", external.publicKeyPEM)
        }
        let privatePEM: String
        if let given = c.tpmKeyPEM {
            privatePEM = given
        } else {
            do { privatePEM = try TPMProvisioning.generateKeyPEM() } catch { throw BootError(input: "TPM key", "\(error)") }
        }
        do {
            let key = try ESMPrivateKey(pemFileBytes: Array(privatePEM.utf8), source: "TPM key")
            return (privatePEM, String(decoding: key.publicKey.fileBytes, as: UTF8.self))
        } catch {
            throw BootError(input: c.tpmKeyPEM == nil ? "TPM key" : "--tpm-key", "\(error)")
        }
    }

    /// An ESM blob whose origin is a fresh key, whose lockbox-1 opens with the TPM's
    /// key (given as its private PEM), with the digests of `kernel`, `initrd` (before
    /// the blob is put in front of it) and `commandLine`, and the given attachments.
    public static func makeBlob(
        tpmKeyPEM: String, kernel: [UInt8], initrd: [UInt8], commandLine: String, attachments: [String: [UInt8]]
    ) throws(BootError) -> [UInt8] {
        let publicPEM: String
        do {
            let key = try ESMPrivateKey(pemFileBytes: Array(tpmKeyPEM.utf8), source: "TPM key")
            publicPEM = String(decoding: key.publicKey.fileBytes, as: UTF8.self)
        } catch {
            throw BootError(input: "ESM blob", "\(error)")
        }
        return try makeBlob(
            tpmPublicKeyPEM: publicPEM, kernel: kernel, initrd: initrd, commandLine: commandLine, attachments: attachments)
    }

    /// An ESM blob whose origin is a fresh key, whose lockbox-1 is wrapped to the TPM
    /// key's public half (e.g. swtpm's `tpmrsapubkey.pem`, as `svm-tool esm authorize`
    /// does), with the digests of `kernel`, `initrd` (before the blob is put in front of
    /// it) and `commandLine`, and the given attachments.
    public static func makeBlob(
        tpmPublicKeyPEM: String, kernel: [UInt8], initrd: [UInt8], commandLine: String, attachments: [String: [UInt8]]
    ) throws(BootError) -> [UInt8] {
        do {
            let tpmKey = try ESMPublicKey(fileBytes: Array(tpmPublicKeyPEM.utf8), source: "TPM public key")
            let origin = try ESMPrivateKey.generate()
            let master = ESMMasterKey.random()
            var blob = try ESMBlob.create(origin: origin.publicKey, comment: "SVMKit origin", masterKey: master)
            _ = try blob.authorize(tpmKey, comment: "TPM wrapping key 0x81800001", masterKey: master)
            try blob.setDigests(ESMDigests(kernel: kernel, initrd: initrd, bootargs: commandLine), masterKey: master)
            for (name, contents) in attachments.sorted(by: { $0.key < $1.key }) {
                try blob.attach(name: name, contents: contents, masterKey: master)
            }
            return blob.bytes
        } catch {
            throw BootError(input: "ESM blob", "\(error)")
        }
    }

    /// `(base + count + plus) & ~0xFFFF`, or nil if the sum does not fit in 64 bits.
    static func alignedEnd(_ base: UInt64, _ count: Int, plus: UInt64) -> UInt64? {
        let (a, o1) = base.addingReportingOverflow(UInt64(count))
        let (b, o2) = a.addingReportingOverflow(plus)
        return o1 || o2 ? nil : b & ~0xFFFF
    }

    /// Whether `initrd` starts with a newc cpio archive that names `opt/ibm/pef` in its
    /// first kilobyte, as the archive `svm add` (and `svmkit esm add-to-initrd`) puts in
    /// front of an initrd does: such an initrd is meant to carry an ESM blob.
    static func declaresBlobArchive(_ initrd: [UInt8]) -> Bool {
        guard initrd.starts(with: CPIOArchive.magic) else { return false }
        let head = Array(initrd.prefix(1024))
        let needle = Array(ESMBlobLocator.pefPrefix.utf8)
        guard head.count >= needle.count else { return false }
        return (0...(head.count - needle.count)).contains { head[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    /// RAM size and vCPU (thread) count described by a tree.
    static func shape(of t: DeviceTree) throws(BootError) -> (UInt64, Int) {
        let regions: [DeviceTreeRegion]
        do { regions = try t.reg(at: "/memory@0") } catch {
            throw BootError(input: "--fdt", "no usable /memory@0 reg: \(error)")
        }
        var memory: UInt64 = 0
        for r in regions {
            let (sum, overflow) = memory.addingReportingOverflow(r.size)
            let (_, endOverflow) = r.address.addingReportingOverflow(r.size)
            guard !overflow, !endOverflow else {
                throw BootError(input: "--fdt", "/memory@0 reg [0x\(String(r.address, radix: 16)), + 0x\(String(r.size, radix: 16))) runs past 2^64")
            }
            memory = sum
        }
        let cpuNodes = t.nodes(withProperty: "device_type", equalTo: Array("cpu".utf8) + [0])
        guard !cpuNodes.isEmpty else { throw BootError(input: "--fdt", "no node with device_type \"cpu\"") }
        let threads = cpuNodes.reduce(0) { n, path in
            n + max(1, ((try? t.property("ibm,ppc-interrupt-server#s", at: path))?.count ?? 4) / 4)
        }
        return (memory, threads)
    }

    /// The first value of `/chosen/qemu,boot-kernel` (<address size>, two 64-bit values).
    static func bootKernelAddress(of t: DeviceTree) -> UInt64? {
        guard let raw = t.propertyIfPresent("qemu,boot-kernel", at: "/chosen"), raw.count >= 8 else { return nil }
        return BigEndianCells.u64(raw, at: 0)
    }

    /// Points an existing tree (e.g. QEMU's) at this image: bootargs, initrd range,
    /// kernel, SLOF's run-time RTAS properties, and the reserve map (entries that
    /// covered the tree's previous kernel or initrd are replaced).
    static func adopt(
        _ t: inout DeviceTree, kernel: DeviceTreeRegion, initrd: DeviceTreeRegion, commandLine: String, rtasBase: UInt64
    ) throws(FDTError) {
        try t.ensureNode("/chosen")
        var stale: [DeviceTreeRegion] = []
        if let raw = t.propertyIfPresent("qemu,boot-kernel", at: "/chosen"), raw.count >= 16 {
            stale.append(DeviceTreeRegion(address: BigEndianCells.u64(raw, at: 0), size: BigEndianCells.u64(raw, at: 8)))
        }
        if let s = try? t.u64("linux,initrd-start", at: "/chosen"), let e = try? t.u64("linux,initrd-end", at: "/chosen"), e >= s {
            stale.append(DeviceTreeRegion(address: s, size: e - s))
        }
        for (i, r) in t.reserveMap.enumerated().reversed() where stale.contains(r) { try t.deleteReserveEntry(at: i) }
        try t.setString("bootargs", commandLine, at: "/chosen")
        try t.setProperty("qemu,boot-kernel", BigEndianCells.bytes(kernel.address) + BigEndianCells.bytes(kernel.size), at: "/chosen")
        try t.setU64("linux,initrd-start", initrd.address, at: "/chosen")
        try t.setU64("linux,initrd-end", initrd.address + initrd.size, at: "/chosen")
        try t.addReserveEntry(kernel)
        try t.addReserveEntry(initrd)
        try t.ensureNode("/rtas")
        try t.setU32("linux,rtas-base", UInt32(truncatingIfNeeded: rtasBase), at: "/rtas")
        try t.setU32("linux,rtas-entry", UInt32(truncatingIfNeeded: rtasBase), at: "/rtas")
        try t.setU32("slof,rtas-size", PseriesTreeBuilder.slofRTASSize, at: "/rtas")
    }
}
