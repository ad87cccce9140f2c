#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SWIOTLB

/// The queue-depth workload of `svmkit bench swiotlb` (issue 18): a driver that keeps
/// `queueDepth` mappings outstanding, as block and network I/O does, against a
/// simulated device that touches every bounce buffer. Its memcpy baseline moves the
/// same bytes over the same number of distinct buffers.
///
/// The workload, precisely (the Linux peer runs the same definition on Linux's own
/// `swiotlb.c`):
///
/// - **Buffers.** Ring entry `k` (`0 ..< queueDepth`) owns original buffer
///   `originals + k * entryStride`. The baseline's stand-in for the bounce slot of
///   entry `k` is `stagings + k * entryStride`. Sizes come from `sizes`, used in order
///   and cycled (one size, or a sequence drawn from a mix).
/// - **Step `i`** (entry `k = i % queueDepth`):
///   1. if entry `k` holds a mapping (from step `i - queueDepth`), complete it: the
///      device acts on its bounce slot (below), then the driver unmaps it;
///   2. the driver changes byte 0 of entry `k`'s original to `UInt8(i & 0xff)`;
///   3. the driver maps `sizes[i % sizes.count]` bytes of entry `k`'s original with the
///      run's direction and CPU hint, and keeps the bounce address in entry `k`. The
///      driver holds its CPU's ``SWIOTLBCPU`` handle for the workload's life when it can
///      claim it (the per-CPU fast path), else it maps and unmaps through the pool.
/// - **Device** (on the bounce slot, the copy a real device's DMA would make):
///   TO_DEVICE reads every byte (a 64-bit XOR fold over the buffer); FROM_DEVICE writes
///   every byte (`memset` with `UInt8(i & 0xff) ^ 0xA5`); BIDIRECTIONAL reads, then
///   writes.
/// - **Bytes moved by the bounce path**: map copies original → slot (Linux copies in
///   for every direction); the device's read and/or write; unmap copies slot →
///   original for FROM_DEVICE and BIDIRECTIONAL.
/// - **Baseline step** (same ring, same order): complete entry `k` if it holds data:
///   the same device action on `stagings + k * entryStride`, then for FROM_DEVICE and
///   BIDIRECTIONAL `memcpy` staging → original; then change byte 0 and `memcpy`
///   original → staging. No pool calls, same bytes, same number of distinct buffers.
/// - A failed map leaves entry `k` empty and is counted.
///
/// ``drain()`` unmaps what is still outstanding (with the device action). With
/// `verify`, every device read is compared with the original (TO_DEVICE,
/// BIDIRECTIONAL) and every original after unmap with what the device wrote
/// (FROM_DEVICE, BIDIRECTIONAL); differences are counted in ``mismatches``.
///
/// Not thread-safe: one workload per thread (each with its own entries and CPU hint).
public final class SWIOTLBQueueDepthWorkload {
    /// The pool under test (nil for the baseline).
    let pool: SWIOTLBPool?
    /// The workload's CPU in `pool`, claimed for the workload's life (per-CPU fast path),
    /// or `nil` when another holder has it (then maps and unmaps go through `pool`).
    let cpuHandle: SWIOTLBCPU?
    let host: UnsafeMutableRawPointer
    let originals: UInt64
    let stagings: UInt64
    let entryStride: Int
    /// Mappings kept outstanding.
    public let queueDepth: Int
    let direction: DMADirection
    let cpu: Int
    let verify: Bool
    let sizes: UnsafeMutableBufferPointer<Int>
    /// Per entry: the bounce address (or staging address), and its size (0: empty).
    let entries: UnsafeMutablePointer<UInt64>
    let entrySizes: UnsafeMutablePointer<Int>
    // Counters: one thread only, so no dynamic exclusivity checks on the hot path.
    @exclusivity(unchecked) var step = 0
    @exclusivity(unchecked) var entry = 0
    @exclusivity(unchecked) var sizeIndex = 0
    /// Steps done (one map each, successful or not).
    @exclusivity(unchecked) public private(set) var operations = 0
    /// Maps that failed.
    @exclusivity(unchecked) public private(set) var failures = 0
    /// Data differences found with `verify`.
    @exclusivity(unchecked) public private(set) var mismatches = 0
    /// Bytes mapped by successful maps.
    @exclusivity(unchecked) public private(set) var bytes = 0
    /// Keeps the device's reads alive.
    @exclusivity(unchecked) public private(set) var fold: UInt64 = 0

    /// Makes a workload over `memory`'s host bytes.
    ///
    /// - Parameters:
    ///   - pool: the pool to bounce through, or `nil` for the memcpy baseline.
    ///   - memory: the host memory holding the pool and the buffers.
    ///   - originals: the first original buffer; entry `k`'s is `entryStride * k` after it.
    ///   - stagings: the baseline's first staging buffer (unused with a pool).
    ///   - entryStride: bytes per entry, at least the largest size.
    ///   - sizes: mapping sizes in the order used (cycled); each at most `entryStride`.
    /// - Throws: ``BounceMemoryError`` if the buffers are not inside `memory`.
    public init(
        pool: SWIOTLBPool?, memory: HostBounceMemory, originals: UInt64, stagings: UInt64, entryStride: Int,
        queueDepth: Int, sizes: [Int], direction: DMADirection, cpu: Int, verify: Bool = false
    ) throws(BounceMemoryError) {
        let depth = max(1, queueDepth)
        let largest = sizes.max() ?? 0
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }), largest <= entryStride else {
            throw BounceMemoryError(address: originals, count: largest, reason: "sizes must be in 1...\(entryStride)")
        }
        let span = depth * entryStride
        guard let base = try memory.withUnsafeMutableBytes(at: 0, count: memory.size, { $0.baseAddress }) else {
            throw BounceMemoryError(address: 0, count: memory.size, reason: "the host buffer has no base address")
        }
        host = base
        _ = try memory.withUnsafeMutableBytes(at: originals, count: span) { _ in 0 }
        if pool == nil { _ = try memory.withUnsafeMutableBytes(at: stagings, count: span) { _ in 0 } }
        self.pool = pool
        cpuHandle = pool?.claimCPU(cpu)
        self.originals = originals
        self.stagings = stagings
        self.entryStride = entryStride
        self.queueDepth = depth
        self.direction = direction
        self.cpu = cpu
        self.verify = verify
        self.sizes = .allocate(capacity: sizes.count)
        _ = self.sizes.initialize(from: sizes)
        entries = .allocate(capacity: depth)
        entries.initialize(repeating: 0, count: depth)
        entrySizes = .allocate(capacity: depth)
        entrySizes.initialize(repeating: 0, count: depth)
    }

    deinit {
        sizes.deallocate()
        entries.deallocate()
        entrySizes.deallocate()
    }

    /// Runs `count` steps.
    public func run(steps count: Int) {
        // The steps reach the pool and the handle without reference counting (an atomic
        // increment and decrement per call otherwise): `self` keeps both alive.
        if let pool {
            let handle = cpuHandle.map { Unmanaged.passUnretained($0) }
            Unmanaged.passUnretained(pool)._withUnsafeGuaranteedRef { pool in
                for _ in 0..<count { poolStep(pool, handle) }
            }
        } else {
            for _ in 0..<count { baselineStep() }
        }
    }

    /// Completes every outstanding entry (device action and unmap) and returns the CPU
    /// handle's cached runs, leaving the pool as it found it.
    public func drain() {
        for k in 0..<queueDepth where entrySizes[k] != 0 {
            complete(
                k, value: UInt8(truncatingIfNeeded: step), pool.map { Unmanaged.passUnretained($0) },
                cpuHandle.map { Unmanaged.passUnretained($0) })
            step &+= 1
        }
        cpuHandle?.flush()
    }

    /// Moves the ring and size cursors one step on (no division on the hot path).
    @inline(__always)
    private func advance() {
        step &+= 1
        entry &+= 1
        if entry == queueDepth { entry = 0 }
        sizeIndex &+= 1
        if sizeIndex == sizes.count { sizeIndex = 0 }
        operations &+= 1
    }

    @inline(__always)
    private func poolStep(_ pool: SWIOTLBPool, _ handle: Unmanaged<SWIOTLBCPU>?) {
        let k = entry
        let value = UInt8(truncatingIfNeeded: step)
        if entrySizes[k] != 0 { complete(k, value: value, Unmanaged.passUnretained(pool), handle) }
        let size = sizes[sizeIndex]
        let original = originals &+ UInt64(k &* entryStride)
        host.storeBytes(of: value, toByteOffset: Int(original), as: UInt8.self)
        do {
            if let handle {
                entries[k] = try handle._withUnsafeGuaranteedRef { cpu in
                    try cpu.map(original: original, size: size, direction: direction)
                }
            } else {
                entries[k] = try pool.map(original: original, size: size, direction: direction, cpu: cpu)
            }
            entrySizes[k] = size
            bytes &+= size
        } catch {
            failures &+= 1
        }
        advance()
    }

    @inline(__always)
    private func baselineStep() {
        let k = entry
        let value = UInt8(truncatingIfNeeded: step)
        if entrySizes[k] != 0 { complete(k, value: value, nil, nil) }
        let size = sizes[sizeIndex]
        let original = originals &+ UInt64(k &* entryStride)
        let staging = stagings &+ UInt64(k &* entryStride)
        host.storeBytes(of: value, toByteOffset: Int(original), as: UInt8.self)
        Self.copy(host + Int(staging), host + Int(original), size)
        entries[k] = staging
        entrySizes[k] = size
        bytes &+= size
        advance()
    }

    /// The device acts on entry `k`'s buffer, then the driver unmaps it (or, for the
    /// baseline, copies it back for the directions that need it).
    @inline(__always)
    private func complete(
        _ k: Int, value: UInt8, _ pool: Unmanaged<SWIOTLBPool>?, _ handle: Unmanaged<SWIOTLBCPU>?
    ) {
        let address = entries[k]
        let size = entrySizes[k]
        let original = originals &+ UInt64(k &* entryStride)
        let slot = host + Int(address)
        let written = value ^ 0xA5
        if direction != .fromDevice {
            fold ^= Self.deviceRead(slot, size)
            if verify && memcmp(slot, host + Int(original), size) != 0 { mismatches &+= 1 }
        }
        if direction != .toDevice { Self.deviceWrite(slot, size, written) }
        if let pool {
            do {
                if let handle {
                    try handle._withUnsafeGuaranteedRef { cpu in
                        try cpu.unmap(address, size: size, direction: direction)
                    }
                } else {
                    try pool._withUnsafeGuaranteedRef { try $0.unmap(address, size: size, direction: direction) }
                }
            } catch {
                failures &+= 1
            }
        } else if direction != .toDevice {
            Self.copy(host + Int(original), slot, size)
        }
        if verify && direction != .toDevice {
            let o = host + Int(original)
            for i in 0..<size where o.load(fromByteOffset: i, as: UInt8.self) != written {
                mismatches &+= 1
                break
            }
        }
        entrySizes[k] = 0
    }

    /// The device's read: every byte, folded 8 at a time.
    @inline(never)
    static func deviceRead(_ p: UnsafeRawPointer, _ count: Int) -> UInt64 {
        var a: UInt64 = 0
        var b: UInt64 = 0
        var i = 0
        while i &+ 16 <= count {
            a ^= p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            b ^= p.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            i &+= 16
        }
        while i < count {
            a ^= UInt64(p.load(fromByteOffset: i, as: UInt8.self))
            i &+= 1
        }
        return a ^ b
    }

    /// The device's write: every byte.
    @inline(never)
    static func deviceWrite(_ p: UnsafeMutableRawPointer, _ count: Int, _ value: UInt8) {
        memset(p, Int32(value), count)
    }

    /// The baseline's copy: libc `memcpy` behind a call the optimizer keeps.
    @inline(never)
    static func copy(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
        memcpy(destination, source, count)
    }
}
