import Synchronization

/// The pool-wide use counters Linux keeps in `struct io_tlb_mem` when debugfs is built
/// in: `total_used` and `used_hiwater`, atomics updated outside the area locks
/// (`kernel/dma/swiotlb.c: inc_used_and_hiwater, dec_used (6.12)`). The high-water
/// mark is therefore the peak of slots in use at one instant across all areas, not a
/// sum of per-area peaks.
///
/// Its own object, padded to two cache lines, so the counters share no line with the
/// pool's read-only fields.
final class PoolCounters: Sendable {
    private let padBefore: (Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0)
    /// `mem->total_used`.
    let used = Atomic<Int>(0)
    /// `mem->used_hiwater`.
    let highWater = Atomic<Int>(0)
    private let padAfter: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// `inc_used_and_hiwater()`: adds `slots` and raises the high-water mark with a
    /// compare-exchange loop if the new total passes it.
    @inline(__always)
    func add(_ slots: Int) {
        let now = used.wrappingAdd(slots, ordering: .relaxed).newValue
        var peak = highWater.load(ordering: .relaxed)
        while now > peak {
            let (exchanged, original) = highWater.compareExchange(
                expected: peak, desired: now, ordering: .relaxed)
            if exchanged { break }
            peak = original
        }
    }

    /// `dec_used()`.
    @inline(__always)
    func remove(_ slots: Int) { used.wrappingSubtract(slots, ordering: .relaxed) }

    /// Writing 0 to debugfs `io_tlb_used_hiwater` (`io_tlb_hiwater_set()`): the mark
    /// becomes 0, whatever is in use.
    func resetHighWater() { highWater.store(0, ordering: .relaxed) }
}
