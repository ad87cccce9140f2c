import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI
import TPM

/// The RTAS area `svm_esm_rtas_gpa_get` finds: `/rtas/linux,rtas-base`, `rtas-size`
/// and `slof,rtas-size` (the text the digest covers).
struct ESMRTASArea: Equatable {
    let base: UInt64
    let size: UInt32
    let textSize: UInt32
}

/// The initrd `svm_esm_initrd_gpa_get` finds: `/chosen/linux,initrd-start`/`-end`.
struct ESMInitrdRange: Equatable {
    let start: UInt64
    let end: UInt64
    /// `end - start`, wrapping as the firmware's unsigned subtraction does.
    var length: UInt64 { end &- start }
}

/// The blob `svm_esm_esmb_get` finds and the part of the initrd its digest covers.
struct ESMFoundBlob: Equatable {
    let blob: [UInt8]
    let hashedInitrd: [UInt8]
}

/// The steps of `svm_esm_blob_chk` (`open-power/ultravisor svm/svm-esm.c`,
/// `svm/svm-esmb.c`, 6366959; reference/ultravisor-facts.md §2.6), one function per
/// firmware function, each tested on its own. ``esmCheckBlob(_:)`` strings them together.
extension Ultravisor {
    /// `svm_esm_rtas_gpa_get`: reads the RTAS properties, pages in ceil(rtas-size /
    /// 64 KiB) pages from `linux,rtas-base` and pseudo-shares them (`rtas-area`).
    func esmRTASArea(_ run: inout ESMRun) throws(ESMFailure) -> ESMRTASArea {
        var notes: [String] = []
        let rtasBase: UInt64, rtasSize: UInt32, textSize: UInt32
        do {
            rtasBase = try run.address("linux,rtas-base", at: "/rtas", step: .rtasArea)
            rtasSize = try run.u32("rtas-size", at: "/rtas", step: .rtasArea)
            textSize = try run.u32("slof,rtas-size", at: "/rtas", step: .rtasArea)
        } catch {
            throw run.failed("rtas-area", .rtasArea, error.cause + " (SLOF adds the RTAS properties at run time)")
        }
        let pages = Self.alignUp(UInt64(rtasSize)) >> PageSize.shift
        guard
            pageIn(
                run.context, address: GuestPhysicalAddress(rawValue: rtasBase), length: pages << PageSize.shift,
                notes: &notes)
        else {
            throw run.failed(
                "rtas-area", .rtasArea,
                "the RTAS area (\(pages) page(s) from linux,rtas-base \(ESMRun.hex(rtasBase)), rtas-size \(rtasSize)) could not be paged in: "
                    + notes.joined(separator: "; "))
        }
        let rtasFrames = (rtasBase >> PageSize.shift)..<((rtasBase >> PageSize.shift) + pages)
        let shared = share(run.context, frames: rtasFrames, kind: .pseudo, notes: &notes)
        guard shared == .success else {
            throw run.failed(
                "rtas-area", .rtasArea,
                "pseudo-sharing the RTAS area at \(ESMRun.hex(rtasBase)) (\(pages) page(s)) gave \(shared.name): "
                    + notes.joined(separator: "; "))
        }
        run.pseudoShared = rtasFrames.map { $0 << PageSize.shift }
        run.passed(
            "rtas-area",
            "RTAS area at \(ESMRun.hex(rtasBase)), rtas-size \(rtasSize), slof,rtas-size \(textSize): \(pages) page(s) pseudo-shared")
        return ESMRTASArea(base: rtasBase, size: rtasSize, textSize: textSize)
    }

    /// `svm_esm_initrd_gpa_get`: the initrd range, paged in; mandatory, even on the
    /// wrapper path (`initrd-range`).
    func esmInitrdRange(_ run: inout ESMRun) throws(ESMFailure) -> ESMInitrdRange {
        var notes: [String] = []
        let initrd: ESMInitrdRange
        do {
            initrd = ESMInitrdRange(
                start: try run.address("linux,initrd-start", at: "/chosen", step: .initrd),
                end: try run.address("linux,initrd-end", at: "/chosen", step: .initrd))
        } catch {
            throw run.failed("initrd-range", .initrd, error.cause + ": an initrd is mandatory")
        }
        let range = "[\(ESMRun.hex(initrd.start)), \(ESMRun.hex(initrd.end)))"
        guard
            pageIn(
                run.context, address: GuestPhysicalAddress(rawValue: initrd.start), length: initrd.length, notes: &notes)
        else {
            throw run.failed(
                "initrd-range", .initrd,
                "the initrd \(range) could not be paged in: " + notes.joined(separator: "; "))
        }
        run.passed("initrd-range", "initrd \(range), \(initrd.length) bytes")
        return initrd
    }

    /// `svm_esm_bootargs_get`: `/chosen/bootargs` with its NUL; mandatory
    /// (`bootargs-property`).
    func esmBootargs(_ run: inout ESMRun) throws(ESMFailure) -> [UInt8] {
        let bootargs: [UInt8]
        do { bootargs = try run.property("bootargs", at: "/chosen", step: .bootargs) } catch {
            throw run.failed("bootargs-property", .bootargs, error.cause + ": the kernel command line is mandatory")
        }
        run.passed("bootargs-property", "/chosen/bootargs, \(bootargs.count) bytes with its NUL")
        return bootargs
    }

    /// `svm_esm_esmb_get` (`esm-blob`): the boot wrapper's blob
    /// (`svm_esm_wrapper_esmb`, `/chosen/linux,esm-blob-start`/`-end`; the whole initrd
    /// is hashed) if both properties are there, else the `opt/ibm/pef` cpio entry in
    /// front of the initrd (`svm_esm_cpio_esmb`; the initrd is hashed from behind it).
    func esmBlob(_ run: inout ESMRun, initrd: ESMInitrdRange) throws(ESMFailure) -> ESMFoundBlob {
        let wrapperStart = try? run.address("linux,esm-blob-start", at: "/chosen", step: .blobDiscovery)
        let wrapperEnd = try? run.address("linux,esm-blob-end", at: "/chosen", step: .blobDiscovery)
        if let s = wrapperStart, let e = wrapperEnd {
            var notes: [String] = []
            let length = e &- s
            guard pageIn(run.context, address: GuestPhysicalAddress(rawValue: s), length: length, notes: &notes) else {
                throw run.failed(
                    "esm-blob", .blobDiscovery,
                    "the wrapper blob [\(ESMRun.hex(s)), \(ESMRun.hex(e))) from /chosen/linux,esm-blob-start/-end could not be paged in: "
                        + notes.joined(separator: "; "))
            }
            let bytes = try esmReadGuest(&run, s, length, "ESM blob")
            guard let blob = ESMWrapperBlob.blob(in: bytes) else {
                throw run.failed(
                    "esm-blob", .blobDiscovery,
                    "/chosen/linux,esm-blob-start \(ESMRun.hex(s)) does not hold an FDT of at most \(length) bytes (magic or totalsize wrong; the firmware would fail at the lockbox-1 lookup)")
            }
            let hashedInitrd = try esmReadGuest(&run, initrd.start, initrd.length, "initrd")
            run.blobSource = "/chosen/linux,esm-blob-start \(ESMRun.hex(s))"
            run.passed(
                "esm-blob", "\(blob.count)-byte blob at \(ESMRun.hex(s)) (boot-wrapper properties); the whole initrd is hashed")
            return ESMFoundBlob(blob: blob, hashedInitrd: hashedInitrd)
        }
        let bytes = try esmReadGuest(&run, initrd.start, initrd.length, "initrd")
        do {
            let location = try ESMBlobLocator.locate(inInitrd: bytes, startAddress: initrd.start)
            for n in location.notes { run.note("esm blob: \(n)") }
            run.blobSource = location.entryName
            run.passed(
                "esm-blob",
                "\(location.blob.count)-byte blob in the initrd's cpio entry \(location.entryName) at offset \(location.blobOffset); the initrd is hashed from offset \(location.hashedRange.lowerBound)"
            )
            return ESMFoundBlob(blob: location.blob, hashedInitrd: Array(bytes[location.hashedRange]))
        } catch {
            throw run.failed("esm-blob", .blobDiscovery, "no ESM blob: \(error.message)")
        }
    }

    /// Reads `count` guest bytes at `address` for the blob step, or fails it naming `what`.
    private func esmReadGuest(_ run: inout ESMRun, _ address: UInt64, _ count: UInt64, _ what: String)
        throws(ESMFailure) -> [UInt8]
    {
        guard count <= UInt64(Int.max),
            let bytes = try? run.machine.memory.read(
                .ultravisor, at: GuestPhysicalAddress(rawValue: address), count: Int(count), purpose: what)
        else {
            throw run.failed(
                "esm-blob", .blobDiscovery, "\(what) at \(ESMRun.hex(address)) (\(count) bytes) cannot be read")
        }
        return bytes
    }

    /// `svm_esmb_get_files_fdt` (`attachments`, optional): the blob's files FDT copied
    /// to the SVM's files-FDT page. A files FDT over the 64 KiB page is not copied and
    /// is recorded as an anomaly (the firmware copies it without a size check); any
    /// other problem is only a notice, as in `svm_esm_blob_chk`.
    func esmAttachments(_ run: inout ESMRun, blob: [UInt8]) {
        let esmbPages = state.withLock { $0.svms[run.context.lpid]?.esmb }
        switch ESMFilesFDT.ultravisorCopy(fromBlob: blob) {
        case .success(let files):
            if files.count > Int(PageSize.bytes) {
                recordAnomaly(
                    "UV_ESM files FDT",
                    "a \(files.count)-byte files FDT: the real Ultravisor copies it without a size check and overruns its 64 KiB page",
                    on: run.machine, caller: run.context.caller)
                run.checks.append(
                    ESMCheck(
                        name: "attachments", passed: false,
                        detail: "the blob's files FDT is \(files.count) bytes, over the 64 KiB page: not copied (notice only)"))
            } else if let page = esmbPages?.filesFDT {
                try? run.machine.memory.write(.ultravisor, at: page, bytes: files, purpose: "files FDT")
                run.attachments = (try? ESMFilesFDT(bytes: files))?.names() ?? []
                run.passed("attachments", "files FDT of \(files.count) bytes copied: \(run.attachments.count) attachment(s)")
            }
        case .failure(let error):
            run.note("notice: error getting esmb attachments, ignoring: \(error.message)")
        }
    }

    /// `svm_esmb_digest_chk` (``ESM/ESMIntegrityCheck``): `lockbox-1` unwrapped by the
    /// TPM over `H_TPM_COMM` (`svm_esmb_symkey_get`), the master key and digests stored
    /// in the SVM's `struct svm_esmb` pages, then the RTAS text, kernel, initrd and
    /// bootargs digests. An RTAS text that cannot be read is hashed as empty (its digest
    /// cannot match).
    func esmDigestCheck(
        _ run: inout ESMRun, rtas: ESMRTASArea, blob: [UInt8], initrd hashedInitrd: [UInt8], bootargs: [UInt8]
    ) throws(ESMFailure) {
        let memory = run.machine.memory
        let context = run.context
        let machine = run.machine
        let wrappingKey = configuration.wrappingKey
        var commands = 0
        let unwrap: ([UInt8]) throws -> [UInt8] = { [self] wrapped in
            guard let key = wrappingKey else {
                throw TPMError.invalidConfiguration(
                    "the Ultravisor's boot device tree has no ibm,uv-tpm node: no wrapping key to unwrap lockbox-1 with")
            }
            defer { _ = self.tpmClose(for: context.caller, depth: context.depth, on: machine) }
            return try TPMLockboxUnwrapper(configuration: key).unwrap(
                wrapped,
                transport: { command in
                    commands += 1
                    return try self.tpmExecute(
                        command, lpid: context.lpid, for: context.caller, depth: context.depth, on: machine
                    ).get()
                },
                randomBytes: { machine.random.bytes($0) })
        }
        let rtasText: [UInt8]
        var notes: [String] = []
        let rtasBase = GuestPhysicalAddress(rawValue: rtas.base)
        if rtas.textSize == 0 {
            rtasText = []
        } else if pageIn(run.context, address: rtasBase, length: UInt64(rtas.textSize), notes: &notes),
            let text = try? memory.read(.ultravisor, at: rtasBase, count: Int(rtas.textSize))
        {
            rtasText = text
        } else {
            rtasText = []
            run.note("the RTAS text [\(ESMRun.hex(rtas.base)), + \(rtas.textSize)) cannot be read: its digest cannot match")
        }
        let kernelBase = GuestPhysicalAddress(rawValue: run.kernelBase)
        let report = ESMIntegrityCheck.run(
            blob: blob, unwrapMasterKey: unwrap, rtasText: rtasText,
            readKernel: { [self] size in
                var kernelNotes: [String] = []
                guard self.pageIn(context, address: kernelBase, length: UInt64(size), notes: &kernelNotes) else {
                    return nil
                }
                return try? memory.read(.ultravisor, at: kernelBase, count: size, purpose: "kernel")
            },
            initrd: hashedInitrd, bootargsProperty: bootargs)
        if commands > 0 { run.note("lockbox-1: \(commands) TPM command(s) over H_TPM_COMM") }
        if let pages = state.withLock({ $0.svms[run.context.lpid]?.esmb }) {
            if let key = report.masterKey {
                try? memory.write(.ultravisor, at: pages.key, bytes: Array(key.prefix(4096)), purpose: "buf_key")
            }
            if let digests = report.digestsFDT {
                try? memory.write(.ultravisor, at: pages.digest, bytes: Array(digests.prefix(4096)), purpose: "buf_digest")
            }
        }
        run.checks += report.checks
        for c in report.checks { run.note("\(c)") }
        guard report.passed else { throw ESMFailure(.digestCheck, report.summary) }
    }
}
