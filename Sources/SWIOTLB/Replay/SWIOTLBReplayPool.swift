/// The pool a replay runs against: `io_tlb_pool`'s `start`, `nslabs` and `nareas`,
/// and the kernel's page size.
///
/// JSON: `{"start", "nslabs", "nareas", "page_size"}`; `nareas` defaults to 1 and
/// `page_size` to 65536 (pseries).
public struct SWIOTLBReplayPool: Sendable, Hashable, Decodable {
    /// `pool->start`: the physical (and, here, bus) address of slot 0.
    public var start: UInt64
    /// `pool->nslabs`: the number of 2 KiB slots, a positive multiple of 128 (at most
    /// ``maximumSlots`` in a trace).
    public var nslabs: Int
    /// `pool->nareas`: a power of two that divides the pool into whole segments.
    public var nareas: Int
    /// `PAGE_SIZE`: 4096 or 65536 on ppc64; any power of two from 2 KiB to 1 GiB.
    public var pageSize: Int

    /// A pool of `nslabs` slots at `start`.
    public init(start: UInt64, nslabs: Int, nareas: Int = 1, pageSize: Int = SWIOTLB.defaultPageSize) {
        self.start = start
        self.nslabs = nslabs
        self.nareas = nareas
        self.pageSize = pageSize
    }

    /// The largest `nslabs` a trace may give: 2^24 slots, a 32 GiB pool. A replay builds
    /// the pool's slot table in host memory (about 19 bytes a slot); the earlier limit,
    /// 2^30, let a 100-byte trace take some 19 GiB and minutes.
    public static let maximumSlots = 1 << 24

    /// The pool's size in bytes.
    public var size: Int { nslabs << SWIOTLB.slotShift }

    enum CodingKeys: String, CodingKey {
        case start, nslabs, nareas
        case pageSize = "page_size"
    }

    /// Decodes the pool; numbers may be JSON integers or `"0x…"` strings.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.start = try c.decode(ReplayNumber.self, forKey: .start).value
        self.nslabs = try c.decode(ReplayNumber.self, forKey: .nslabs).int(named: "nslabs")
        self.nareas = try c.decodeIfPresent(ReplayNumber.self, forKey: .nareas)?.int(named: "nareas") ?? 1
        self.pageSize =
            try c.decodeIfPresent(ReplayNumber.self, forKey: .pageSize)?.int(named: "page_size") ?? SWIOTLB.defaultPageSize
    }

    /// Why the pool cannot be replayed, or `nil`. The limits keep the oracle and the
    /// Swift pool on the same layout: `swiotlb_init_io_tlb_pool()` (6.12) takes any
    /// `nareas`, but SVMKit's pool keeps `nareas` a power of two that divides it evenly.
    var problem: String? {
        if nslabs <= 0 || nslabs % SWIOTLB.segmentSlots != 0 || nslabs > Self.maximumSlots {
            return "nslabs \(nslabs) is not a positive multiple of \(SWIOTLB.segmentSlots) up to 2^24"
        }
        if pageSize < SWIOTLB.slotSize || pageSize > 1 << 30 || pageSize.nonzeroBitCount != 1 {
            return "page_size \(pageSize) is not a power of two in 2048...2^30"
        }
        if start % UInt64(pageSize) != 0 { return "start \(hex(start)) is not aligned to page_size \(pageSize)" }
        if start > UInt64.max - UInt64(size) - UInt64(pageSize) {
            return "start \(hex(start)) + \(size) bytes wraps the address space"
        }
        // nareas is compared with the segment count before it is multiplied: a power of
        // two such as 2^62 times 128 overflowed and trapped.
        if nareas < 1 || nareas.nonzeroBitCount != 1 || nareas > nslabs / SWIOTLB.segmentSlots
            || nslabs % (nareas * SWIOTLB.segmentSlots) != 0
        {
            return "nareas \(nareas) is not a power of two that splits \(nslabs) slots into whole 128-slot segments"
        }
        return nil
    }
}

/// `0x…` spelling of an address, as the replay output uses.
func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
