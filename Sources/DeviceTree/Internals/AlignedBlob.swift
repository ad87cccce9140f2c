/// Storage for a flattened device tree that keeps its base 8-byte aligned, as
/// libfdt ≥ 1.6 requires (swift-notes §1.5, pitfall 8): the bytes live in an
/// array of `UInt64` words, whose base is 8-byte aligned by construction.
///
/// Invariant: `count <= words.count * 8`; bytes past `count` are zero.
struct AlignedBlob: Hashable, Sendable {
    private(set) var words: [UInt64]
    private(set) var count: Int

    init(byteCount: Int) {
        words = Array(repeating: 0, count: (byteCount + 7) / 8)
        count = byteCount
    }

    /// Copies `bytes`: one `memcpy` when they are contiguous (arrays, slices, `Data`),
    /// element by element otherwise. The generic element-wise copy is not
    /// specialised across the module boundary, and its iterator allocated on every
    /// byte, which made opening a blob the slowest step of the fuzz target.
    init(_ bytes: some Collection<UInt8>) {
        self.init(byteCount: bytes.count)
        words.withUnsafeMutableBytes { dst in
            let copied: Void? = bytes.withContiguousStorageIfAvailable { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(src))
            }
            if copied == nil { _ = dst.initializeMemory(as: UInt8.self, from: bytes) }
        }
    }

    var bytes: [UInt8] {
        words.withUnsafeBytes { Array($0.prefix(count)) }
    }

    /// Grows (zero-filled) or shrinks to `newCount` bytes.
    mutating func resize(to newCount: Int) {
        let needed = (newCount + 7) / 8
        if needed > words.count {
            words.append(contentsOf: repeatElement(0, count: needed - words.count))
        } else if needed < words.count {
            words.removeLast(words.count - needed)
        }
        if newCount < count {
            // Keep the invariant that bytes past `count` are zero.
            words.withUnsafeMutableBytes { raw in
                for i in newCount..<min(count, raw.count) { raw[i] = 0 }
            }
        }
        count = newCount
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        words.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        let n = count
        return words.withUnsafeMutableBytes { body(UnsafeMutableRawBufferPointer(rebasing: $0.prefix(n))) }
    }
}
