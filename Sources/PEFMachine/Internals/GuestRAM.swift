#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
internal import HostMapping

/// The one place in SVMKit that reads and writes guest RAM: one ``AnonymousMapping``
/// (made lazily, so a 64 GiB guest costs only what is touched).
///
/// The mapping's own invariant (mapped in `init`, unmapped in `deinit`, never moved)
/// is ``AnonymousMapping``'s. What keeps access to the bytes sound: every method that
/// reads or writes them is called by `GuestMemory` only while it holds its page-table
/// mutex, so no two threads touch the bytes at once, and no pointer into the mapping
/// escapes a method call (the `withBytes` closures run under that same mutex and are
/// documented as not escaping). Offsets are checked by `GuestMemory` before they get
/// here; each method re-checks them with a cheap guard and does nothing when they are
/// out of range, so a bug cannot turn into a wild pointer.
final class GuestRAM: Sendable {
    private let mapping: AnonymousMapping
    /// Start of the mapping.
    private var base: UnsafeMutableRawPointer { mapping.base }
    /// Length of the mapping in bytes.
    var byteCount: Int { mapping.byteCount }
    /// The host's page size (4 KiB here), the granule of `madvise` and `mincore`.
    let hostPageSize: Int

    /// Maps `byteCount` bytes, or returns `nil` with `errno` if the kernel refuses.
    init?(byteCount: Int) {
        guard let mapping = AnonymousMapping(byteCount: byteCount) else { return nil }
        self.mapping = mapping
        hostPageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
    }

    private func inRange(_ offset: Int, _ count: Int) -> Bool {
        offset >= 0 && count >= 0 && offset <= byteCount && count <= byteCount - offset
    }

    /// Copies `count` bytes at `offset` to `destination`.
    func copyOut(offset: Int, count: Int, to destination: UnsafeMutableRawPointer) {
        guard inRange(offset, count), count > 0 else { return }
        destination.copyMemory(from: base + offset, byteCount: count)
    }

    /// Copies `count` bytes from `source` to `offset`.
    func copyIn(offset: Int, from source: UnsafeRawPointer, count: Int) {
        guard inRange(offset, count), count > 0 else { return }
        (base + offset).copyMemory(from: source, byteCount: count)
    }

    /// Copies inside the mapping (the ranges may overlap).
    func move(from source: Int, to destination: Int, count: Int) {
        guard inRange(source, count), inRange(destination, count), count > 0 else { return }
        memmove(base + destination, base + source, count)
    }

    /// Runs `body` on the bytes; the pointer must not escape.
    func withBytes<R>(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard inRange(offset, count) else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: base + offset, count: count))
    }

    /// Runs `body` on the bytes for writing; the pointer must not escape.
    func withMutableBytes<R>(offset: Int, count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        guard inRange(offset, count) else { return body(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeMutableRawBufferPointer(start: base + offset, count: count))
    }

    /// Zeroes a range. Whole host pages are given back with `madvise(MADV_DONTNEED)`
    /// (they read as zero and cost nothing until touched again); the ragged ends, if
    /// any, are cleared with `memset`.
    func zero(offset: Int, count: Int) {
        guard inRange(offset, count), count > 0 else { return }
        let mask = hostPageSize - 1
        let firstWhole = (offset + mask) & ~mask
        let endWhole = (offset + count) & ~mask
        if firstWhole < endWhole {
            if firstWhole > offset { memset(base + offset, 0, firstWhole - offset) }
            if madvise(base + firstWhole, endWhole - firstWhole, MADV_DONTNEED) != 0 {
                memset(base + firstWhole, 0, endWhole - firstWhole)
            }
            if offset + count > endWhole { memset(base + endWhole, 0, offset + count - endWhole) }
        } else {
            memset(base + offset, 0, count)
        }
    }

    /// How many bytes of the range are resident in host memory (`mincore`), counted in
    /// host pages. Scans in 1 GiB windows so the vector stays small.
    func residentBytes(offset: Int = 0, count: Int? = nil) -> UInt64 {
        let count = count ?? byteCount
        guard inRange(offset, count), count > 0 else { return 0 }
        let mask = hostPageSize - 1
        var start = offset & ~mask
        let end = offset + count
        let window = 1 << 30
        var vector = [UInt8](repeating: 0, count: window / hostPageSize)
        var pages: UInt64 = 0
        while start < end {
            let length = min(window, end - start)
            let n = (length + mask) / hostPageSize
            let rc = vector.withUnsafeMutableBufferPointer { v in
                mincore(base + start, length, v.baseAddress)
            }
            if rc == 0 {
                for i in 0..<n where vector[i] & 1 != 0 { pages += 1 }
            }
            start += length
        }
        return pages * UInt64(hostPageSize)
    }
}
