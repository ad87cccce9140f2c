/// The memory that the pool's copies go through: one flat "physical" address space
/// holding both the bounce region and the callers' original buffers.
///
/// The pool makes exactly one `copy` call per bounce (map, unmap, or sync), so a
/// guest implementation can check page states once per mapping, not per byte
/// (ARCHITECTURE.md, "Memory model"). ``HostBounceMemory`` is the standalone
/// implementation over a host buffer; the guest kernel implements it over simulated
/// guest memory. Implementations are classes (the memory is shared state), which also
/// keeps the pool's call to them a direct witness call.
public protocol BounceMemory: AnyObject, Sendable {
    /// Copies `count` bytes from physical address `source` to physical address
    /// `destination`. The ranges do not overlap when the pool calls this.
    /// Throws if either range is not accessible, naming it.
    func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError)
}

/// A copy that a ``BounceMemory`` refused, with the range that was wrong.
public struct BounceMemoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The first address of the range that was refused.
    public let address: UInt64
    /// The length of that range in bytes.
    public let count: Int
    /// Why, e.g. "beyond the end of the 64 MiB host buffer".
    public let reason: String

    /// Makes an error about `count` bytes at `address`.
    public init(address: UInt64, count: Int, reason: String) {
        self.address = address
        self.count = count
        self.reason = reason
    }

    /// E.g. `cannot access 4096 bytes at 0x4000000: beyond the end of ...`.
    public var description: String {
        "cannot access \(count) bytes at 0x\(String(address, radix: 16)): \(reason)"
    }
}
