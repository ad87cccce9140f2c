#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import HostMapping

/// A ``BounceMemory`` over one anonymous, page-aligned, zero-filled host mapping,
/// whose physical addresses are byte offsets into it. For standalone use of the pool,
/// tests and the benchmark.
///
/// The bytes are one `AnonymousMapping` (mapped in `init`, unmapped when the memory
/// goes, never moved); every access is bounds-checked against `size` before it
/// touches them. Concurrent copies into the same bytes are the callers' race, exactly
/// as with real memory.
public final class HostBounceMemory: BounceMemory, Sendable {
    /// The length in bytes; valid physical addresses are `0 ..< size`.
    public let size: Int
    private let mapping: AnonymousMapping
    /// The host bytes (internal: the pool copies through them directly).
    var bytes: UnsafeMutableRawPointer { mapping.base }

    /// Maps `size` bytes of zeroed memory (reserved lazily, so untouched pages cost nothing).
    /// Throws if `size` is not positive or the host refuses the mapping.
    public init(size: Int) throws(BounceMemoryError) {
        guard size > 0 else { throw BounceMemoryError(address: 0, count: size, reason: "host buffer size must be positive") }
        guard let mapping = AnonymousMapping(byteCount: size) else {
            throw BounceMemoryError(address: 0, count: size, reason: "mmap of the host buffer failed (errno \(errno))")
        }
        self.size = size
        self.mapping = mapping
    }

    @inline(__always)
    private func check(_ address: UInt64, _ count: Int) throws(BounceMemoryError) {
        guard count >= 0, address <= UInt64(size), UInt64(count) <= UInt64(size) &- address else {
            throw outside(address, count)
        }
    }

    @inline(never)
    private func outside(_ address: UInt64, _ count: Int) -> BounceMemoryError {
        BounceMemoryError(
            address: address, count: count, reason: "outside the \(size)-byte host buffer (addresses 0..<\(size))")
    }

    /// Copies between two ranges of the buffer (`memmove`), after checking both.
    public func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
        try check(source, count)
        try check(destination, count)
        memmove(bytes + Int(destination), bytes + Int(source), count)
    }

    /// Writes `data` at `address`.
    public func write(_ data: some Collection<UInt8>, at address: UInt64) throws(BounceMemoryError) {
        try check(address, data.count)
        let target = UnsafeMutableRawBufferPointer(start: bytes + Int(address), count: data.count)
        target.copyBytes(from: data)
    }

    /// Reads `count` bytes at `address`.
    public func read(at address: UInt64, count: Int) throws(BounceMemoryError) -> [UInt8] {
        try check(address, count)
        return Array(UnsafeRawBufferPointer(start: bytes + Int(address), count: count))
    }

    /// Fills `count` bytes at `address` with `value`.
    public func fill(at address: UInt64, count: Int, with value: UInt8) throws(BounceMemoryError) {
        try check(address, count)
        memset(bytes + Int(address), Int32(value), count)
    }

    /// Calls `body` with the host bytes of `count` bytes at `address`.
    /// Do not let the pointer escape `body`.
    public func withUnsafeMutableBytes<R>(
        at address: UInt64, count: Int, _ body: (UnsafeMutableRawBufferPointer) -> R
    ) throws(BounceMemoryError) -> R {
        try check(address, count)
        return body(UnsafeMutableRawBufferPointer(start: bytes + Int(address), count: count))
    }
}
