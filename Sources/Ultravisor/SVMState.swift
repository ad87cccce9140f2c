@_spi(Firmware) import PEFMachine
import PowerABI

/// The Ultravisor's record of one SVM (`struct svm` in `open-power/ultravisor`).
/// Page states themselves live in the machine's `GuestMemory`, the single source of truth.
struct SVMState: Sendable {
    let lpid: UInt64
    var lifecycle: SVMLifecycle = .created
    var memorySlots: [UInt16: MemorySlot] = [:]
    /// `core/pagein_track.c`: frames already paged in by this ESM. One 2 MiB page of
    /// bits in the firmware, so GFNs ≥ 2^24 (GPAs ≥ 1 TiB) cannot be tracked.
    var pageInTracking: FrameBitmap
    /// The page-out key (AES-128), random per SVM.
    let pageKey: [UInt8]
    /// The random 4-byte IV prefix.
    let ivPrefix: [UInt8]
    /// The IV counter: one per page-out.
    var ivCounter: UInt64 = 0
    /// IV and tag of each paged-out page, by frame.
    var sealedPages: [UInt64: SealedPageRecord] = [:]
    /// RTAS bounce buffering, once UV_ESM set it up.
    var rtas: RTASBounceState?
    /// The implicitly shared TPM bounce page, once UV_ESM reserved it.
    var tpmBouncePage: GuestPhysicalAddress?
    /// The private TPM transfer page (`struct svm_tss_xfer`), once UV_ESM reserved it.
    var tpmTransferPage: GuestPhysicalAddress?
    /// The pages `svm_esmb` reserved: `struct svm_esmb` (master key, digests) and the
    /// copy of the blob's files FDT.
    var esmb: ESMBPages?
    /// UV_ESMB_GET_FILE's per-file read state (`struct esmb_file_ctx`), by file name.
    var fileContexts: [String: ESMFileContext] = [:]

    /// Frames the page-in tracking bitmap can hold (2^24, reference/ultravisor-facts.md §2.2).
    static let trackableFrames = 1 << 24

    init(lpid: UInt64, memoryPages: Int, random: DeterministicRandom) {
        self.lpid = lpid
        pageInTracking = FrameBitmap(capacity: min(memoryPages, Self.trackableFrames))
        pageKey = random.bytes(PageCipher.keyBytes)
        ivPrefix = random.bytes(PageCipher.ivPrefixBytes)
    }

    /// Whether `[address, address + length)` lies inside the union of the memory slots.
    func slotsCover(_ address: UInt64, _ length: UInt64) -> Bool {
        guard length > 0 else { return false }
        let (end, overflow) = address.addingReportingOverflow(length)
        guard !overflow else { return false }
        // Fast path: one slot holds the whole range.
        for s in memorySlots.values where s.start.rawValue <= address && end <= s.end { return true }
        var cursor = address
        let slots = memorySlots.values.sorted { $0.start < $1.start }
        var progressed = true
        while cursor < end && progressed {
            progressed = false
            for s in slots where s.start.rawValue <= cursor && cursor < s.end {
                cursor = s.end
                progressed = true
            }
        }
        return cursor >= end
    }

    /// Whether the frames lie inside the memory slots.
    func slotsCover(frames: Range<UInt64>) -> Bool {
        guard frames.lowerBound < frames.upperBound, frames.upperBound <= (UInt64.max >> PageSize.shift) else {
            return false
        }
        return slotsCover(frames.lowerBound << PageSize.shift, (frames.upperBound - frames.lowerBound) << PageSize.shift)
    }
}

/// The two pages `svm_esmb` reserves (reference/ultravisor-facts.md §2.5): `struct
/// svm_esmb` (`buf_key[4096]`, then `buf_digest[4096]`) and the files FDT.
struct ESMBPages: Sendable, Hashable {
    let data: GuestPhysicalAddress
    let filesFDT: GuestPhysicalAddress

    /// `buf_key`: the unwrapped master key.
    var key: GuestPhysicalAddress { data }
    /// `buf_digest`: the decrypted digests FDT.
    var digest: GuestPhysicalAddress { GuestPhysicalAddress(rawValue: data.rawValue + 4096) }
}

/// `struct esmb_file_ctx`: who first read a file (PIDR) and how far.
struct ESMFileContext: Sendable, Hashable {
    let pid: UInt64
    var lastByteRead: UInt64
}

/// A reflected hcall waiting for the hypervisor's `UV_RETURN`.
struct PendingReflection: Sendable {
    let vcpu: Int?
    var results: Registers?
}

/// An RTAS `start-cpu` the Ultravisor rewrote: it starts the vCPU itself when the
/// hypervisor enters it with the cookie (reference/ultravisor-facts.md §5.4).
struct StartCPURequest: Sendable {
    let lpid: UInt64
    let cpu: UInt64
    let startHere: UInt64
    let r3: UInt64
}

/// Everything the Ultravisor keeps, behind one mutex.
struct UltravisorState: Sendable {
    var svms = SVMTable()
    var partitionTable: [UInt64: PartitionTableEntry] = [:]
    var reflections: [UInt64: PendingReflection] = [:]
    var nextCookie: UInt64 = 0x55AA_0000
    var startCPURequests: [UInt64: StartCPURequest] = [:]
    var nextStartCPUCookie: UInt64 = 0x2000
    var restrictedSPRs: [UInt64: UInt64] = [:]
    var scom: [UInt64: UInt64] = [:]
    var terminatedLPIDs: [UInt64] = []
    var anomalies: [UltravisorAnomaly] = []
    /// Every UV_ESM's report, per LPID, oldest first (kept after the SVM is gone).
    var esmReports: [UInt64: [ESMReport]] = [:]
}
