import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI

/// The `svm_ops` FDT update handlers `svm_fdt_init()` runs in link order
/// (`svm/Makefile.inc`: `svm-esmb.o`, `svm-rtas.o`, `svm-tss.o`; reference/
/// ultravisor-facts.md §2.5 step 4). Each reserves pages just below the RMO top with
/// ``esmReserve(_:bytes:for:step:)``.
extension Ultravisor {
    /// The most vCPUs an SVM may have (`MAX_GUEST_CPUS`, one 16-byte `stop-self` slot
    /// each in a 64 KiB page).
    static let maximumGuestProcessors: UInt32 = 4096

    /// Models `svm_esmb_fdt_upd_hdlr()` (`svm/svm-esmb.c`): one page for `struct
    /// svm_esmb` (`buf_key[4096]`, `buf_digest[4096]`), then one for the copy of the
    /// blob's files FDT.
    ///
    /// The firmware maps these private pages with `gpa_to_addr` when it first writes
    /// them; SVMKit pages both in (`H_SVM_PAGE_IN`, nothing copied) and zeroes them
    /// here, so they are secure and hold nothing of the guest's (inference).
    func esmReserveESMBPages(_ run: inout ESMRun) throws(ESMFailure) {
        let data = try esmReserve(&run, bytes: PageSize.bytes, for: "svm_esmb", step: .esmbReservation)
        let files = try esmReserve(&run, bytes: PageSize.bytes, for: "svm_esmb files FDT", step: .esmbReservation)
        run.regions.append(ESMReservedRegion(name: "esmb", address: data, size: PageSize.bytes))
        run.regions.append(ESMReservedRegion(name: "files-fdt", address: files, size: PageSize.bytes))
        try esmPreparePrivatePage(&run, data, step: .esmbReservation)
        try esmPreparePrivatePage(&run, files, step: .esmbReservation)
        let pages = ESMBPages(
            data: GuestPhysicalAddress(rawValue: data), filesFDT: GuestPhysicalAddress(rawValue: files))
        state.withLock { $0.svms[run.context.lpid]?.esmb = pages }
        run.note("svm_esmb: struct svm_esmb at \(ESMRun.hex(data)), files FDT at \(ESMRun.hex(files))")
    }

    /// Models `svm_rtas_fdt_upd_hdlr()` (`svm/svm-rtas.c`; §2.5, §5.4):
    ///
    /// 1. `svm_rtas_token_lookup`: `/rtas/stop-self`, then each service of the handler
    ///    table; a missing mandatory token fails, `ibm,nmi-register` is optional;
    /// 2. vcpus.max = `/rtas/ibm,lrdr-capacity` cell (#address-cells + #size-cells of
    ///    the root) × (length of `ibm,ppc-interrupt-server#s` of the first
    ///    `device_type = "cpu"` node, 4 if absent) / 4, in 32-bit arithmetic; a
    ///    lookup failure makes the firmware's value a negative error code, i.e. huge;
    ///    it must be ≤ 4096;
    /// 3. 6 contiguous pages: page 0 `rtas_args_bbuf`, pages 1–4 the bounce pool, page
    ///    5 the `stop-self` slots, shared implicitly in three calls (1, 4, 1 pages),
    ///    each of which must succeed.
    func esmReserveRTASPages(_ run: inout ESMRun) throws(ESMFailure) {
        var tokens: [String: UInt32] = [:]
        for name in ([RTASService.stopSelf] + RTASService.mandatory).map(\.name) {
            do {
                tokens[name] = try run.u32(name, at: "/rtas", step: .rtasTokens)
            } catch {
                throw ESMFailure(
                    .rtasTokens, "\(error.cause): the Ultravisor requires the RTAS token of \(name) (svm_rtas_token_lookup)")
            }
        }
        if let raw = run.working.propertyIfPresent(RTASService.nmiRegister.name, at: "/rtas"), raw.count >= 4 {
            tokens[RTASService.nmiRegister.name] = BigEndianCells.u32(raw, at: 0)
        }
        run.note("svm_rtas: \(tokens.count) RTAS tokens (stop-self and the 11 mandatory services)")

        let addressCells = try run.u32("#address-cells", at: "/", step: .vcpuLimit)
        let sizeCells = try run.u32("#size-cells", at: "/", step: .vcpuLimit)
        let capacity = try run.property("ibm,lrdr-capacity", at: "/rtas", step: .vcpuLimit)
        let index = Int(addressCells) + Int(sizeCells)
        guard capacity.count >= 4 * (index + 1) else {
            throw ESMFailure(
                .vcpuLimit,
                "/rtas/ibm,lrdr-capacity is \(capacity.count) bytes; the maximum processor count is cell \(index) (#address-cells \(addressCells) + #size-cells \(sizeCells)) (the firmware asserts)")
        }
        let cores = BigEndianCells.u32(capacity, at: 4 * index)
        guard let cpu = run.working.nodes(withProperty: "device_type", equalTo: Array("cpu".utf8) + [0]).first else {
            throw ESMFailure(.vcpuLimit, "no node with device_type = \"cpu\" in the device tree")
        }
        let servers = run.working.propertyIfPresent("ibm,ppc-interrupt-server#s", at: cpu)?.count ?? 4
        let maximum = cores &* UInt32(truncatingIfNeeded: servers) / 4
        guard maximum <= Self.maximumGuestProcessors else {
            throw ESMFailure(
                .vcpuLimit,
                "vcpus.max = \(maximum) (ibm,lrdr-capacity cell \(index) = \(cores) cores × \(servers / 4) threads in \(cpu)/ibm,ppc-interrupt-server#s) is over MAX_GUEST_CPUS \(Self.maximumGuestProcessors)")
        }
        run.maximumProcessors = maximum
        run.note("svm_rtas: vcpus.max \(maximum) (\(cores) × \(servers / 4) threads)")

        let base = try esmReserve(
            &run, bytes: UInt64(RTASBounceState.pageCount) * PageSize.bytes, for: "svm_rtas", step: .rtasReservation)
        let first = base >> PageSize.shift
        var shared: [UInt64] = []
        for (pages, what) in [(0..<1, "rtas_args_bbuf"), (1..<5, "rtas_buf_bbuf"), (5..<6, "stop_self_args")] {
            var notes: [String] = []
            let frames = (first + UInt64(pages.lowerBound))..<(first + UInt64(pages.upperBound))
            let status = share(run.context, frames: frames, kind: .implicit, notes: &notes)
            guard status == .success else {
                throw ESMFailure(
                    .rtasReservation,
                    "svm_rtas: page_share_with_hv(\(what) at \(gpaText(frames.lowerBound)), \(frames.count) page(s), implicit) gave \(status.name): "
                        + notes.joined(separator: "; "))
            }
            shared += frames.map { $0 << PageSize.shift }
        }
        run.regions.append(
            ESMReservedRegion(
                name: "rtas", address: base, size: UInt64(RTASBounceState.pageCount) * PageSize.bytes,
                implicitlyShared: shared))
        configureRTASBounce(
            lpid: run.context.lpid, base: GuestPhysicalAddress(rawValue: base), tokens: tokens,
            maximumProcessors: Int(maximum))
        run.note("svm_rtas: 6 bounce pages at \(ESMRun.hex(base)), shared implicitly")
    }

    /// Models `svm_tss_fdt_upd_hdlr()` (`svm/svm-tss.c`): 2 pages; page 0 is the TPM
    /// bounce buffer, shared implicitly (the firmware ignores the share's result: so
    /// does SVMKit, which notes it; the TPM commands then fail), page 1 the private
    /// `struct svm_tss_xfer` (paged in and zeroed here, as for `svm_esmb`).
    func esmReserveTSSPages(_ run: inout ESMRun) throws(ESMFailure) {
        let base = try esmReserve(&run, bytes: 2 * PageSize.bytes, for: "svm_tss", step: .tssReservation)
        var notes: [String] = []
        let status = share(run.context, frames: (base >> PageSize.shift)..<((base >> PageSize.shift) + 1), kind: .implicit, notes: &notes)
        if status != .success {
            run.note("svm_tss: sharing the TPM bounce page gave \(status.name) (ignored, as in the firmware): " + notes.joined(separator: "; "))
        }
        try esmPreparePrivatePage(&run, base + PageSize.bytes, step: .tssReservation)
        setTPMBouncePage(lpid: run.context.lpid, GuestPhysicalAddress(rawValue: base))
        state.withLock { $0.svms[run.context.lpid]?.tpmTransferPage = GuestPhysicalAddress(rawValue: base + PageSize.bytes) }
        run.regions.append(
            ESMReservedRegion(
                name: "tss", address: base, size: 2 * PageSize.bytes, implicitlyShared: status == .success ? [base] : []))
        run.note("svm_tss: TPM bounce page at \(ESMRun.hex(base)) (shared implicitly), transfer page at \(ESMRun.hex(base + PageSize.bytes))")
    }

    /// Pages a private reserved page in (nothing copied) and zeroes it.
    func esmPreparePrivatePage(_ run: inout ESMRun, _ address: UInt64, step: ESMStep) throws(ESMFailure) {
        var notes: [String] = []
        let gpa = GuestPhysicalAddress(rawValue: address)
        guard pageIn(run.context, address: gpa, length: PageSize.bytes, notes: &notes) else {
            throw ESMFailure(step, "the reserved page \(gpa) could not be paged in: " + notes.joined(separator: "; "))
        }
        do {
            try run.machine.memory.zero(.ultravisor, at: gpa, count: Int(PageSize.bytes), purpose: "Ultravisor page")
        } catch {
            throw ESMFailure(step, "the reserved page \(gpa) could not be cleared: \(error)")
        }
    }
}
