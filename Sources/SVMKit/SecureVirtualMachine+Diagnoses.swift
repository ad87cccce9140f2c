import PEFMachine
import PowerABI
import SecureGuest

extension SecureVirtualMachine {
    /// The report's `diagnoses`: one ``HypervisorAccessDiagnosis`` per secure page the
    /// hypervisor touched (the first access to each page), in order. An observer: it
    /// reads the machine's isolation records and trace, the guest's exported
    /// `Memblock`, ledger and fault list, and the boot image's layout; the guest's
    /// behaviour never depends on it.
    public func diagnoses() -> [HypervisorAccessDiagnosis] {
        let violations = machine.memory.violations.filter { $0.caller.kind == .hypervisor }
        guard !violations.isEmpty else { return [] }
        let kernel = self.kernel
        let memblock = kernel?.memblock
        let culprits = Dictionary(
            (kernel?.diagnose() ?? []).filter { $0.kind == .isolationViolation }.compactMap { f in
                f.address.map { ($0, f.culprit) }
            }, uniquingKeysWith: { first, _ in first })
        let tampered = tamperedFrames()
        var seen = Set<UInt64>()
        var out: [HypervisorAccessDiagnosis] = []
        for v in violations {
            let frame = v.address.frame.rawValue
            guard seen.insert(frame).inserted else { continue }
            let address = v.address.rawValue
            let owner =
                memblock?.region(containing: address)?.purpose
                ?? image.segments.first(where: { $0.address <= address && address < $0.end })?.name
                ?? (image.fdtAddress <= address && address < image.fdtAddress + UInt64(image.deviceTree.totalSize)
                    ? "fdt" : "unknown")
            let pagedBackIn: String?
            if let status = tampered[frame] {
                pagedBackIn =
                    "the guest touched it again: UV_PAGE_IN answered \(status) (Hypervisor tampering detected), "
                    + "so the guest's access cannot complete"
            } else if v.handling == .pageOut, machine.memory.state(of: v.address.frame) == .secure {
                pagedBackIn = "the guest touched it again and it was paged back in intact"
            } else {
                pagedBackIn = nil
            }
            out.append(
                HypervisorAccessDiagnosis(
                    owner: owner, consequence: Self.consequence(of: v), cause: Self.cause(owner: owner, culprit: culprits[address]),
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
            return "\(purpose) read ciphertext, so the hypervisor saw a nonsense area length"
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
