/// Mapping bookkeeping shared by both allocators: per-mapping records (one 16-byte
/// record at the first data slot, holding the live and released marks too), counters,
/// and lookups by bounce address. Records are written by whoever holds the mapping's
/// slots (see the `SlotTable` invariant).
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

    /// Records a new mapping on its allocated run in `area`; returns the first data slot
    /// (`index + pad_slots`).
    @inline(__always)
    func recordMapping(area _: Int, start: Int, _ r: SlotRequest) -> Int {
        let pad = r.offset &>> SWIOTLB.slotShift
        let head = start &+ pad
        records[head] = SlotRecord(
            original: r.original, mappingSize: UInt32(truncatingIfNeeded: r.mappingSize),
            offsetAndState: UInt16(truncatingIfNeeded: r.offset & (SWIOTLB.slotSize - 1)) | SlotRecord.liveBit,
            slots: UInt8(truncatingIfNeeded: r.slots), padSlots: UInt8(truncatingIfNeeded: pad))
        return head
    }

    /// Forgets a mapping that was recorded but never handed out (its copy-in failed);
    /// area lock held.
    func discardMapping(area: Int, head: Int) {
        let record = records[head]
        records[head].offsetAndState = 0
        free(area: area, start: head - Int(record.padSlots), count: Int(record.slots))
    }

    /// Whether `head` is the first data slot of a live mapping whose bounce address has
    /// in-slot offset `offset`.
    @inline(__always)
    func isLiveHead(_ head: Int, offset: Int) -> Bool { records[head].isLiveHead(offset: offset) }

    /// Marks a live mapping unmapped: no longer live, remembered as released.
    /// Its slots stay allocated until they are freed or cached.
    @inline(__always)
    func retire(head: Int) { records[head].retire() }

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
    /// A mapping never crosses a segment, so its head is in the same segment, at or
    /// below `slot`: the nearest live record there is the only live candidate (slots
    /// inside a live mapping hold no live record), then released ones are checked.
    func lookup(slot: Int, byte: UInt64) -> Lookup {
        let firstSlot = slot & ~127
        var h = slot
        while h >= firstSlot && !records[h].isLive { h -= 1 }
        if h >= firstSlot && covers(h, byte) { return .live(head: h) }
        h = slot
        while h >= firstSlot {
            let record = records[h]
            if record.isReleased && covers(h, byte)
                && isFree(run: h - Int(record.padSlots), count: Int(record.slots))
            {
                return .released(head: h)
            }
            h -= 1
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
