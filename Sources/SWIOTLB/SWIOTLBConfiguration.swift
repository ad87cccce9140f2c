/// The size, area count and mode of the default pool, with the round-ups Linux applies
/// to the `swiotlb=` numbers and the boot messages it prints about them.
///
/// Models `setup_io_tlb_npages()`, `swiotlb_adjust_nareas()`,
/// `round_up_default_nslabs()` and the area handling of `swiotlb_init_remap()` in
/// `kernel/dma/swiotlb.c` (reference/linux-guest-facts.md §2.2, §2.7). The kernel
/// command-line text is parsed elsewhere; this takes the numbers.
///
/// ```swift
/// let c = try SWIOTLBConfiguration(slabs: 40000, possibleCPUs: 4)
/// c.slots     // 65536: ALIGN(40000, 128) = 40064, then rounded up to a power of two
/// c.messages  // ["area num 4.", "SWIOTLB bounce buffer size roundup to 128MB"]
/// ```
public struct SWIOTLBConfiguration: Sendable, Hashable {
    /// The pool size in 2 KiB slots (`default_nslabs`).
    public let slots: Int
    /// The number of areas, each with its own lock (`nareas`), a power of two.
    public let areas: Int
    /// `swiotlb=force`: every mapping bounces.
    public let force: Bool
    /// `swiotlb=noforce`: SWIOTLB is disabled.
    public let disabled: Bool
    /// What the kernel logs about these choices, in order.
    public let messages: [String]

    /// The pool size in bytes.
    public var size: Int { slots << SWIOTLB.slotShift }

    /// The largest slot count accepted (2^40 slots, 2 PiB): anything larger is a typo.
    public static let maximumSlots = 1 << 40

    /// Applies Linux's rules to `swiotlb=<slabs>[,<areas>][,force|noforce]`.
    ///
    /// - Parameters:
    ///   - slabs: the first number, in 2 KiB slots, or `nil` for the 64 MiB default.
    ///     Aligned up to 128 (`IO_TLB_SEGSIZE`).
    ///   - areas: the second number, or `nil` to use `possibleCPUs`. 0 counts as 1;
    ///     others are rounded up to a power of two.
    ///   - force: `swiotlb=force`.
    ///   - noforce: `swiotlb=noforce`.
    ///   - possibleCPUs: `num_possible_cpus()`, used when `areas` is `nil`.
    ///
    /// Then, when `areas` is `nil` (the CPU count decides), as `round_up_default_nslabs()`
    /// does: a pool smaller than 128 slots per area grows to 128 × areas, and a pool whose
    /// slot count is not a power of two is rounded up to one ("SWIOTLB bounce buffer size
    /// roundup to …MB"). With `areas` from the command line Linux rounded at parse time,
    /// against the slot count known then (`SWIOTLBOption` passes that count). Finally
    /// `limit_nareas()` caps the areas at one per 128 slots.
    /// Throws ``SWIOTLBError/invalidConfiguration(_:)`` for negative or absurd numbers.
    public init(
        slabs: Int? = nil, areas: Int? = nil, force: Bool = false, noforce: Bool = false, possibleCPUs: Int = 1
    ) throws(SWIOTLBError) {
        var messages: [String] = []
        if let slabs, slabs < 0 || slabs > Self.maximumSlots {
            throw .invalidConfiguration("swiotlb slot count \(slabs) is outside 0...\(Self.maximumSlots)")
        }
        if let areas, areas < 0 || areas > 1 << 20 {
            throw .invalidConfiguration("swiotlb area count \(areas) is outside 0...\(1 << 20)")
        }
        guard possibleCPUs >= 1, possibleCPUs <= 1 << 20 else {
            throw .invalidConfiguration("possible CPU count \(possibleCPUs) is outside 1...\(1 << 20)")
        }
        // setup_io_tlb_npages(): "avoid tail segment of size < IO_TLB_SEGSIZE".
        var nslabs = slabs.map { Self.alignUp($0, SWIOTLB.segmentSlots) } ?? SWIOTLB.defaultSlots
        // swiotlb_adjust_nareas(): from the command line (it already rounded the slot
        // count then, against the count known at that moment, so not again here), or at
        // init from the CPU count, rounding now (swiotlb_init_remap(), 6.12).
        let nareas = Self.areaCount(areas ?? possibleCPUs)
        messages.append("area num \(nareas).")
        if areas == nil {
            let rounded = Self.roundedSlots(nslabs, areas: nareas)
            if rounded != nslabs || nslabs < SWIOTLB.segmentSlots * nareas {
                messages.append("SWIOTLB bounce buffer size roundup to \((rounded << SWIOTLB.slotShift) >> 20)MB")
            }
            nslabs = rounded
        }
        guard nslabs > 0 else {
            throw .invalidConfiguration("swiotlb slot count 0 with \(nareas) area(s) gives an empty pool")
        }
        self.slots = nslabs
        self.areas = Self.limitAreas(nareas, slots: nslabs)
        self.force = force
        self.disabled = noforce
        self.messages = messages
    }

    private init(slots: Int, areas: Int, force: Bool, disabled: Bool, messages: [String]) {
        self.slots = slots
        self.areas = areas
        self.force = force
        self.disabled = disabled
        self.messages = messages
    }

    /// The next size to try when the pool's memory could not be allocated: half as
    /// many slots (aligned to 128), areas limited to fit, and the kernel's message;
    /// `nil` once the pool is at `IO_TLB_MIN_SLABS` (1 MiB) or below, where Linux gives up
    /// with a warning (reference/linux-guest-facts.md §2.2).
    public func halved() -> SWIOTLBConfiguration? {
        guard slots > SWIOTLB.minimumSlots else { return nil }
        let next = Self.alignUp(slots >> 1, SWIOTLB.segmentSlots)
        return SWIOTLBConfiguration(
            slots: next, areas: Self.limitAreas(areas, slots: next), force: force, disabled: disabled,
            messages: messages + ["SWIOTLB bounce buffer size adjusted \(slots) -> \(next) slabs"])
    }

    /// `round_up_default_nslabs()` (kernel/dma/swiotlb.c, 6.12): at least 128 slots per
    /// area, then a power of two.
    public static func roundedSlots(_ slots: Int, areas: Int) -> Int {
        if slots < SWIOTLB.segmentSlots * areas { return roundUpPowerOfTwo(SWIOTLB.segmentSlots * areas) }
        return slots.nonzeroBitCount == 1 ? slots : roundUpPowerOfTwo(slots)
    }

    /// `swiotlb_adjust_nareas()`'s rounding: 0 becomes 1, others a power of two.
    public static func areaCount(_ requested: Int) -> Int { requested <= 1 ? 1 : roundUpPowerOfTwo(requested) }

    /// `limit_nareas()`: at most one area per 128 slots.
    public static func limitAreas(_ areas: Int, slots: Int) -> Int {
        slots < areas * SWIOTLB.segmentSlots ? slots / SWIOTLB.segmentSlots : areas
    }

    static func alignUp(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    static func roundUpPowerOfTwo(_ n: Int) -> Int {
        n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount)
    }
}
