public import PowerABI

/// A mistake found in a guest's behaviour, with the culprit named: the address, the
/// kernel object that owns it, and which function should have done what.
///
/// The kernel records the ones Linux notices itself (misuse the SWIOTLB library
/// refuses, registrations the hypervisor refused, each with Linux's WARNING line);
/// ``GuestKernel/diagnose()`` adds SVMKit's knowledge: share and unshare statuses
/// Linux ignored, the machine's isolation violations and the SVM kill, each
/// attributed to the kernel object whose memory was touched.
public struct GuestFault: Hashable, Sendable, CustomStringConvertible {
    /// What kind of mistake.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The hypervisor (or a device it runs) touched a page the guest had not shared.
        case isolationViolation = "isolation violation"
        /// The Ultravisor killed the SVM (e.g. it touched an implicitly shared page).
        case svmKilled = "SVM killed"
        /// A share, unshare or unshare-all call answered a non-zero status, which Linux
        /// ignores (`svm.c`, `paca.c`, `core_64.c` (6.12)): the guest went on as if it
        /// had worked. A diagnosis by SVMKit, not something the guest noticed.
        case ignoredStatus = "ignored status"
        /// The SWIOTLB library refused a mapping operation (double unmap, sync past the
        /// end, …).
        case swiotlbMisuse = "SWIOTLB misuse"
        /// `H_REGISTER_VPA` refused a VPA or DTL.
        case registrationFailed = "registration failed"
        /// A DMA transfer failed in the device.
        case dmaFailed = "DMA failed"
    }

    /// The kind.
    public let kind: Kind
    /// The guest-physical address involved, if one.
    public let address: GuestPhysicalAddress?
    /// The owner of that memory in the shared-page vocabulary, when it is one.
    public let owner: SharedPageOwner?
    /// What the kernel's allocator says the memory is (e.g. `lppaca`, `swiotlb`,
    /// `kernel`), if it knows.
    public let region: String?
    /// Who is to blame, in words (e.g. "alloc_shared_lppaca() did not share it").
    public let culprit: String
    /// The underlying record (violation, kill, error).
    public let detail: String

    /// Makes a fault.
    public init(
        kind: Kind, address: GuestPhysicalAddress?, owner: SharedPageOwner?, region: String?, culprit: String, detail: String
    ) {
        self.kind = kind
        self.address = address
        self.owner = owner
        self.region = region
        self.culprit = culprit
        self.detail = detail
    }

    /// e.g. `isolation violation at 0x800000 (lppaca): alloc_shared_lppaca() did not share it — hypervisor … read …`.
    public var description: String {
        var s = kind.rawValue
        if let address { s += " at \(address)" }
        if let owner { s += " (owner \(owner.rawValue))" } else if let region { s += " (\(region))" }
        return s + ": " + culprit + " — " + detail
    }

    /// The kernel-log line.
    var logLine: String { "SVMKit: " + description }
}

extension SharedPageOwner {
    /// The kernel function that shares this owner's pages (the culprit when they were
    /// not shared).
    public var sharingFunction: String {
        switch self {
        case .lppaca: "alloc_shared_lppaca()"
        case .dtl: "dtl_cache_ctor()"
        case .swiotlb: "swiotlb_update_mem_attributes()"
        case .dmaCoherent: "dma_direct_alloc()"
        case .other: "set_memory_decrypted()"
        }
    }

    /// The owner for a ``Memblock`` purpose, when it names one (purposes are the raw
    /// values).
    public init?(memblockPurpose purpose: String) { self.init(rawValue: purpose) }
}
