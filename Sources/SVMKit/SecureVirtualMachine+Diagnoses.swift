@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest

extension SecureVirtualMachine {
    /// The report's `diagnoses`: one ``Diagnosis`` per secure page the
    /// hypervisor touched (the first access to each page), in order; then the SVM's
    /// kill, if the Ultravisor killed it, and each SWIOTLB misuse the kernel recorded.
    /// An observer: it reads the machine's isolation records, kill and trace, the
    /// guest's exported `Memblock`, ledger and fault list, and the boot image's
    /// layout; the guest's behaviour never depends on it.
    public func diagnoses() -> [Diagnosis] {
        unbouncedDMADiagnoses() + hypervisorAccessDiagnoses() + killDiagnoses() + misuseDiagnoses()
    }

    /// One paragraph when a secure guest's streaming DMA reached secure memory because
    /// nothing bounced it: which kernel behaviour did it (no pool on 6.1/6.12 without
    /// `swiotlb=force`, or a TCE-mapped device) and the workaround.
    private func unbouncedDMADiagnoses() -> [Diagnosis] {
        guard let kernel, kernel.isSecureGuest else { return [] }
        let dma = machine.memory.violations.filter {
            $0.caller.kind == .hypervisor && ($0.purpose?.contains("DMA") ?? false)
                && kernel.ledger.entries[$0.address.frame] == nil
        }
        guard let first = dma.first else { return [] }
        let linux = kernel.options.linux
        let pool = kernel.swiotlbPool
        let bounced = kernel.dmaForcedBounce && pool != nil
        let iommu = kernel.options.dmaPath == .tce
        guard !bounced || iommu else { return [] }
        let cause: String
        if iommu {
            cause =
                "the virtual disk is TCE-mapped (--dma-path tce): dma_iommu_ops maps the buffer's own secure page "
                + "with H_PUT_TCE and never bounces through SWIOTLB (every modelled series, 5.4.y "
                + "included: iommu_init_early_pSeries() sets dma_iommu_ops for secure guests too), so the hypervisor's DMA pages the page out as ciphertext; "
                + "workaround: give the guest a device behind a DDW window (dma-direct, which bounces) and "
                + "swiotlb=force"
        } else {
            cause =
                "no SWIOTLB bounce pool: Linux \(linux) booted without swiotlb=force makes none (\(LinuxVersion.poolRegression); "
                + "its one log line is \"software IO TLB: No low mem\"). dma-direct, reached through dma_iommu_ops' DDW "
                + "bypass, then hands the device the secure buffer's own address, and the hypervisor's DMA pages it "
                + "out as ciphertext. Workaround: add swiotlb=force to the kernel command line, inside the ESM blob's "
                + "bootargs digest (svmkit esm create --cmdline \"svm=on swiotlb=force …\"); affected: "
                + LinuxVersion.needingSwiotlbForce.map(\.series).joined(separator: ", ")
        }
        return [
            Diagnosis(
                owner: owner(of: first.address),
                consequence:
                    "\(dma.count) virtual-disk DMA access(es) reached secure memory directly: the disk received "
                    + "ciphertext and what is read back does not match what was written",
                cause: cause, address: first.address.rawValue, access: first.purpose ?? "DMA",
                handling: first.handling.rawValue)
        ]
    }

    /// The owner of `address` in the guest: the allocator's purpose, else an image
    /// segment, else `unknown`.
    private func owner(of address: GuestPhysicalAddress) -> String {
        kernel?.memblock?.region(containing: address)?.purpose
            ?? image.segments.first(where: { $0.address <= address && address < $0.end })?.name
            ?? (image.fdtAddress <= address
                && address.rawValue < image.fdtAddress.rawValue + UInt64(image.deviceTree.totalSize)
                ? "fdt" : "unknown")
    }

    /// `svm_e00_handle` → `svm_abort` (`core/svm_host.c`): the SVM touched a page the
    /// Ultravisor shared implicitly; or another firmware kill.
    private func killDiagnoses() -> [Diagnosis] {
        guard let kill = machine.memory.kill else { return [] }
        let address = kill.address?.rawValue ?? 0
        let implicit = kill.pageState == .sharedImplicit || kill.pageState == .sharedImplicitInvalid
        return [
            Diagnosis(
                owner: implicit ? "ultravisor-implicit" : owner(of: GuestPhysicalAddress(address)),
                consequence: "the Ultravisor killed the SVM (\(kill.reason))",
                cause: implicit
                    ? "the guest touched a page the Ultravisor shared for itself (an RTAS or TPM bounce page); "
                        + "svm_e00_handle() aborts the SVM"
                    : "the Ultravisor aborted the SVM",
                address: address, access: kill.reason)
        ]
    }

    /// What the SWIOTLB library refused (double unmap, sync past the end, …), as the
    /// kernel recorded it.
    private func misuseDiagnoses() -> [Diagnosis] {
        (kernel?.faults ?? []).filter { $0.kind == .swiotlbMisuse }.map { f in
            Diagnosis(
                owner: f.owner?.rawValue ?? f.region ?? "swiotlb",
                consequence: "SWIOTLB refused the operation: \(f.detail)", cause: f.culprit,
                address: f.address?.rawValue ?? 0, access: f.detail)
        }
    }

    private func hypervisorAccessDiagnoses() -> [Diagnosis] {
        let violations = machine.memory.violations.filter { $0.caller.kind == .hypervisor }
        guard !violations.isEmpty else { return [] }
        let kernel = self.kernel
        let culprits = Dictionary(
            (kernel?.diagnose() ?? []).filter { $0.kind == .isolationViolation }.compactMap { f in
                f.address.map { ($0, f.culprit) }
            }, uniquingKeysWith: { first, _ in first })
        let tampered = tamperedFrames()
        var seen = Set<UInt64>()
        var out: [Diagnosis] = []
        for v in violations {
            let frame = v.address.frame.rawValue
            guard seen.insert(frame).inserted else { continue }
            let address = v.address.rawValue
            let owner = owner(of: v.address)
            let pagedBackIn: String?
            if let status = tampered[frame] {
                pagedBackIn =
                    "the guest touched it again: UV_PAGE_IN answered \(status) (Hypervisor tampering detected), "
                    + "so the guest's access cannot complete"
            } else if v.handling == .pageOut, machine.memory.state(of: v.address.frame) == .secure {
                pagedBackIn = "the guest touched it again and it was paged back in intact"
            } else if v.handling == .pageOut, machine.memory.isHypervisorHeld(v.address.frame),
                let held = hypervisor.pagedOutPage(frame: frame, on: machine)
            {
                pagedBackIn =
                    ultravisor.openPageOut(lpid: machine.lpid, frame: frame, bytes: held.bytes) == nil
                    ? "not touched again yet, but the hypervisor has written into the page: "
                        + "the guest's next touch fails authentication (U_P3)"
                    : "not touched again yet; the ciphertext is intact"
            } else {
                pagedBackIn = nil
            }
            var consequence = Self.consequence(of: v)
            if v.purpose?.hasPrefix("H_REGISTER_VPA") == true,
                let call = machine.trace.records.first(where: {
                    $0.name == "H_REGISTER_VPA" && $0.arguments.count > 2 && $0.arguments[2] >> PageSize.shift == frame
                })
            {
                consequence += " (H_REGISTER_VPA answered \(call.statusName))"
            }
            out.append(
                Diagnosis(
                    owner: owner, consequence: consequence, cause: Self.cause(owner: owner, culprit: culprits[v.address]),
                    address: address, access: v.purpose ?? "\(v.access.rawValue) of \(v.address)",
                    handling: v.handling.rawValue, pagedBackIn: pagedBackIn))
        }
        return out
    }

    /// Frames whose `UV_PAGE_IN` failed authentication, with the status name (from the
    /// trace's records).
    private func tamperedFrames() -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for r in machine.trace.records where r.level == .sc2 && r.number == Ultracall.pageIn.rawValue {
            guard r.arguments.count > 2, UltravisorStatus(rawValue: r.result) == .p3 else { continue }
            out[r.arguments[2] >> PageSize.shift] = r.statusName
        }
        return out
    }

    /// What the hypervisor's access did, in words.
    static func consequence(of v: IsolationViolation) -> String {
        let purpose = v.purpose ?? "an access"
        guard v.handling == .pageOut else {
            return "\(purpose): the hypervisor's \(v.access.rawValue) failed at once (--hv-touch stop)"
        }
        if purpose.contains("DMA read") {
            return "the block write to the disk carried ciphertext (\(purpose))"
        }
        if purpose.contains("DMA write") {
            return "the device wrote into the page's ciphertext (\(purpose)); the guest cannot read it back"
        }
        if purpose.hasPrefix("H_REGISTER_VPA") {
            return "\(purpose) read the area's length from ciphertext"
        }
        if purpose.hasPrefix("DTL") || purpose.hasPrefix("dispatch") {
            return "\(purpose) wrote into the page's ciphertext, so the guest finds nonsense dispatch counters"
        }
        return v.access == .read
            ? "\(purpose): the hypervisor read ciphertext"
            : "\(purpose): the hypervisor wrote into the page's ciphertext"
    }

    /// The likely cause, from the owner and the guest's own attribution.
    static func cause(owner: String, culprit: String?) -> String {
        if let culprit, culprit.contains("unshared it") { return culprit }
        let what: String
        switch SharedPageOwner(memblockPurpose: owner) {
        case .swiotlb?: what = "the SWIOTLB pool was never shared"
        case .lppaca?: what = "the LPPACA region was never shared"
        case .dtl?: what = "the DTL buffer was never shared"
        case .dmaCoherent?: what = "the coherent DMA buffer was never shared"
        case .other?: what = "the page was never shared"
        case nil:
            return "the hypervisor was given the address of \(owner) memory the guest never shares"
                + (culprit.map { " (\($0))" } ?? "")
        }
        return what + (culprit.map { ": \($0)" } ?? "")
    }
}
