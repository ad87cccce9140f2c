/// Mapping bookkeeping shared by both allocators (area lock held): head and released
/// bits, per-mapping records, counters, and lookups by bounce address.
extension SlotTable {
    /// Where a pool byte offset falls.
    enum Lookup {
        /// Inside the live mapping whose first data slot is `head`.
        case live(head: Int)
        /// Inside a mapping already unmapped, whose slots are all free.
        case released(head: Int)
        /// Inside no mapping.
        case none
    }

    /// Records a new mapping on its allocated run; returns the first data slot
    /// (`index + pad_slots`).
    @inline(__always)
    func recordMapping(area: Int, start: Int, _ r: SlotRequest) -> Int {
        let pad = r.offset &>> SWIOTLB.slotShift
        let head = start &+ pad
        records[head] = SlotRecord(
            original: r.original, mappingSize: UInt32(truncatingIfNeeded: r.mappingSize),
            offset: UInt16(truncatingIfNeeded: r.offset & (SWIOTLB.slotSize - 1)),
            slots: UInt8(truncatingIfNeeded: r.slots), padSlots: UInt8(truncatingIfNeeded: pad))
        let segment = segments + (head &>> 7)
        let bit = UInt128(1) &<< (head & 127)
        segment.pointee.heads |= bit
        segment.pointee.released &= ~bit
        return head
    }

    /// Forgets a mapping that was recorded but never handed out (its copy-in failed).
    func discardMapping(area: Int, head: Int) {
        let record = records[head]
        segments[head &>> 7].heads &= ~(UInt128(1) &<< (head & 127))
        free(area: area, start: head - Int(record.padSlots), count: Int(record.slots))
    }

    /// Whether `head` is the first data slot of a live mapping whose bounce address has
    /// in-slot offset `offset`.
    @inline(__always)
    func isLiveHead(_ head: Int, offset: Int) -> Bool {
        segments[head &>> 7].heads & (UInt128(1) &<< (head & 127)) != 0 && Int(records[head].offset) == offset
    }

    /// Marks a live mapping unmapped: no longer a head, remembered as released.
    /// Its slots stay allocated until `free(area:start:count:)`.
    @inline(__always)
    func retire(head: Int) {
        let bit = UInt128(1) &<< (head & 127)
        let segment = segments + (head &>> 7)
        segment.pointee.heads &= ~bit
        segment.pointee.released |= bit
    }

    /// The bounce byte offset (from the pool start) where the mapping at `head` begins.
    @inline(__always)
    func mappingStart(_ head: Int) -> UInt64 {
        (UInt64(head) << UInt64(SWIOTLB.slotShift)) &+ UInt64(records[head].offset)
    }

    @inline(__always)
    private func covers(_ head: Int, _ byte: UInt64) -> Bool {
        let start = mappingStart(head)
        return byte >= start && byte - start < UInt64(records[head].mappingSize)
    }

    /// Finds the mapping that pool byte offset `byte` (in slot `slot`) falls in.
    /// A mapping never crosses a segment, so its head is in the same segment.
    func lookup(slot: Int, byte: UInt64) -> Lookup {
        let masks = segments[slot &>> 7]
        let firstSlot = slot & ~127
        if let h = SegmentBits.highest(in: masks.heads, atOrBelow: slot & 127), covers(firstSlot + h, byte) {
            return .live(head: firstSlot + h)
        }
        var released = masks.released & SegmentBits.below((slot & 127) + 1)
        while released != 0 {
            let h = 127 - released.leadingZeroBitCount
            if covers(firstSlot + h, byte) && isFree(run: firstSlot + h - Int(records[firstSlot + h].padSlots),
                count: Int(records[firstSlot + h].slots))
            {
                return .released(head: firstSlot + h)
            }
            released &= ~(UInt128(1) << h)
        }
        return .none
    }

    /// Whether every slot of a run is free (so an unmapped mapping there was not reused).
    func isFree(run start: Int, count: Int) -> Bool {
        guard start >= 0, count > 0, start + count <= totalSlots else { return false }
        for slot in start..<(start + count) where isAllocated(slot) { return false }
        return true
    }
}
