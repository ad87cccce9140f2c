import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI
import TPM

/// `svm_esm_blob_chk(kbase)` (`open-power/ultravisor svm/svm-esm.c`,
/// `svm/svm-esmb.c`; reference/ultravisor-facts.md §2.6). Every failure here is an
/// integrity-check failure: with the `warn` policy `UV_ESM` goes on (§0).
extension Ultravisor {
    /// Runs the checks in the firmware's order, recording each as an ``ESM/ESMCheck``:
    ///
    /// 1. `rtas-area`: `/rtas/linux,rtas-base`, `rtas-size`, `slof,rtas-size`;
    ///    ceil(rtas-size / 64 KiB) pages paged in and pseudo-shared;
    /// 2. `initrd-range`: `/chosen/linux,initrd-start`/`-end`, paged in (mandatory);
    /// 3. `bootargs-property`: `/chosen/bootargs` (mandatory);
    /// 4. `esm-blob`: the wrapper properties `/chosen/linux,esm-blob-start`/`-end`, else
    ///    the `opt/ibm/pef` cpio entry in front of the initrd (``ESM/ESMBlobLocator``);
    /// 5. `attachments`: the blob's `/file/files-fdt` copied to the files-FDT page (a
    ///    failure is only a notice);
    /// 6. the digest check (``ESM/ESMIntegrityCheck``): `lockbox-1` unwrapped by the TPM
    ///    over `H_TPM_COMM` from the TPM bounce page (the wrapping key is the
    ///    configuration's `ibm,uv-tpm` node), the master key and digests stored in
    ///    `struct svm_esmb`, then the RTAS, kernel, initrd and bootargs digests.
    func esmCheckBlob(_ run: inout ESMRun) throws(ESMFailure) {
        let memory = run.machine.memory
        var notes: [String] = []

        // 1. RTAS area.
        let rtasBase: UInt64, rtasSize: UInt32, textSize: UInt32
        do {
            rtasBase = try run.address("linux,rtas-base", at: "/rtas", step: .rtasArea)
            rtasSize = try run.u32("rtas-size", at: "/rtas", step: .rtasArea)
            textSize = try run.u32("slof,rtas-size", at: "/rtas", step: .rtasArea)
        } catch {
            throw run.failed("rtas-area", .rtasArea, error.cause + " (SLOF adds the RTAS properties at run time)")
        }
        let pages = Self.alignUp(UInt64(rtasSize)) >> PageSize.shift
        guard pageIn(run.context, address: GuestPhysicalAddress(rawValue: rtasBase), length: pages << PageSize.shift, notes: &notes)
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

        // 2. initrd (mandatory, even on the wrapper path).
        let initrdStart: UInt64, initrdEnd: UInt64
        do {
            initrdStart = try run.address("linux,initrd-start", at: "/chosen", step: .initrd)
            initrdEnd = try run.address("linux,initrd-end", at: "/chosen", step: .initrd)
        } catch {
            throw run.failed("initrd-range", .initrd, error.cause + ": an initrd is mandatory")
        }
        let initrdLength = initrdEnd &- initrdStart
        guard pageIn(run.context, address: GuestPhysicalAddress(rawValue: initrdStart), length: initrdLength, notes: &notes)
        else {
            throw run.failed(
                "initrd-range", .initrd,
                "the initrd [\(ESMRun.hex(initrdStart)), \(ESMRun.hex(initrdEnd))) could not be paged in: "
                    + notes.joined(separator: "; "))
        }
        run.passed("initrd-range", "initrd [\(ESMRun.hex(initrdStart)), \(ESMRun.hex(initrdEnd))), \(initrdLength) bytes")

        // 3. bootargs (mandatory).
        let bootargs: [UInt8]
        do { bootargs = try run.property("bootargs", at: "/chosen", step: .bootargs) } catch {
            throw run.failed("bootargs-property", .bootargs, error.cause + ": the kernel command line is mandatory")
        }
        run.passed("bootargs-property", "/chosen/bootargs, \(bootargs.count) bytes with its NUL")

        // 4. The blob.
        let blob: [UInt8]
        let hashedInitrd: [UInt8]
        func readGuest(_ address: UInt64, _ count: UInt64, _ what: String) throws(ESMFailure) -> [UInt8] {
            guard count <= UInt64(Int.max),
                let bytes = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: address), count: Int(count), purpose: what)
            else { throw run.failed("esm-blob", .blobDiscovery, "\(what) at \(ESMRun.hex(address)) (\(count) bytes) cannot be read") }
            return bytes
        }
        let wrapperStart = try? run.address("linux,esm-blob-start", at: "/chosen", step: .blobDiscovery)
        let wrapperEnd = try? run.address("linux,esm-blob-end", at: "/chosen", step: .blobDiscovery)
        if let s = wrapperStart, let e = wrapperEnd {
            let length = e &- s
            guard pageIn(run.context, address: GuestPhysicalAddress(rawValue: s), length: length, notes: &notes) else {
                throw run.failed(
                    "esm-blob", .blobDiscovery,
                    "the wrapper blob [\(ESMRun.hex(s)), \(ESMRun.hex(e))) from /chosen/linux,esm-blob-start/-end could not be paged in: "
                        + notes.joined(separator: "; "))
            }
            let bytes = try readGuest(s, length, "ESM blob")
            guard let found = ESMWrapperBlob.blob(in: bytes) else {
                throw run.failed(
                    "esm-blob", .blobDiscovery,
                    "/chosen/linux,esm-blob-start \(ESMRun.hex(s)) does not hold an FDT of at most \(length) bytes (magic or totalsize wrong; the firmware would fail at the lockbox-1 lookup)")
            }
            blob = found
            hashedInitrd = try readGuest(initrdStart, initrdLength, "initrd")
            run.blobSource = "/chosen/linux,esm-blob-start \(ESMRun.hex(s))"
            run.passed("esm-blob", "\(blob.count)-byte blob at \(ESMRun.hex(s)) (boot-wrapper properties); the whole initrd is hashed")
        } else {
            let initrd = try readGuest(initrdStart, initrdLength, "initrd")
            do {
                let location = try ESMBlobLocator.locate(inInitrd: initrd, startAddress: initrdStart)
                blob = location.blob
                hashedInitrd = Array(initrd[location.hashedRange])
                for n in location.notes { run.note("esm blob: \(n)") }
                run.blobSource = location.entryName
                run.passed(
                    "esm-blob",
                    "\(blob.count)-byte blob in the initrd's cpio entry \(location.entryName) at offset \(location.blobOffset); the initrd is hashed from offset \(location.hashedRange.lowerBound)")
            } catch {
                throw run.failed("esm-blob", .blobDiscovery, "no ESM blob: \(error.message)")
            }
        }

        // 5. Attachments (optional).
        let esmbPages = state.withLock { $0.svms[run.context.lpid]?.esmb }
        switch ESMFilesFDT.ultravisorCopy(fromBlob: blob) {
        case .success(let files):
            if files.count > Int(PageSize.bytes) {
                recordAnomaly(
                    "UV_ESM files FDT", "a \(files.count)-byte files FDT: the real Ultravisor copies it without a size check and overruns its 64 KiB page",
                    on: run.machine, caller: run.context.caller)
                run.checks.append(
                    ESMCheck(
                        name: "attachments", passed: false,
                        detail: "the blob's files FDT is \(files.count) bytes, over the 64 KiB page: not copied (notice only)"))
            } else if let page = esmbPages?.filesFDT {
                try? memory.write(.ultravisor, at: page, bytes: files, purpose: "files FDT")
                run.attachments = (try? ESMFilesFDT(bytes: files))?.names() ?? []
                run.passed("attachments", "files FDT of \(files.count) bytes copied: \(run.attachments.count) attachment(s)")
            }
        case .failure(let error):
            run.note("notice: error getting esmb attachments, ignoring: \(error.message)")
        }

        // 6. The digest check.
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
        if textSize == 0 {
            rtasText = []
        } else if pageIn(run.context, address: GuestPhysicalAddress(rawValue: rtasBase), length: UInt64(textSize), notes: &notes),
            let text = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: rtasBase), count: Int(textSize))
        {
            rtasText = text
        } else {
            rtasText = []
            run.note("the RTAS text [\(ESMRun.hex(rtasBase)), + \(textSize)) cannot be read: its digest cannot match")
        }
        let kernelBase = run.kernelBase
        let report = ESMIntegrityCheck.run(
            blob: blob, unwrapMasterKey: unwrap, rtasText: rtasText,
            readKernel: { [self] size in
                var kernelNotes: [String] = []
                guard self.pageIn(context, address: GuestPhysicalAddress(rawValue: kernelBase), length: UInt64(size), notes: &kernelNotes)
                else { return nil }
                return try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: kernelBase), count: size, purpose: "kernel")
            },
            initrd: hashedInitrd, bootargsProperty: bootargs)
        if commands > 0 { run.note("lockbox-1: \(commands) TPM command(s) over H_TPM_COMM") }
        if let pages = esmbPages {
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
