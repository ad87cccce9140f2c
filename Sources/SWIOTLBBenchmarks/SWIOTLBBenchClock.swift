#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time and the other small tools the SWIOTLB benchmark's loops need.
package enum SWIOTLBBenchClock {
    /// Nanoseconds from `CLOCK_MONOTONIC`.
    @inline(__always)
    package static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Nanoseconds of CPU time used by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
    package static func threadCPUTime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// The median cost of one `now()` call, subtracted from per-mapping latencies.
    package static func overhead() -> UInt64 {
        var samples: [UInt64] = []
        for _ in 0..<101 {
            let t0 = now()
            for _ in 0..<100 { blackHole(UInt8(truncatingIfNeeded: now())) }
            samples.append((now() - t0) / 101)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// Keeps a value alive so the optimizer cannot drop the copy that produced it
    /// (reference/swift-notes.md §2.3).
    @inline(never)
    package static func blackHole(_ value: UInt8) {
        if value == 0xA5 && sink == 0x5A { sink = value }
    }

    nonisolated(unsafe) static var sink: UInt8 = 0

    /// The memcpy baseline's copy: libc `memcpy` behind a call the optimizer keeps, so
    /// that a loop of identical copies is not collapsed (reference/swift-notes.md §2.3)
    /// and the destination need not be read back (a read right after the copy would
    /// stall on its stores and make the baseline look slower than it is).
    @inline(never)
    package static func memcpyOnce(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer, _ count: Int) {
        memcpy(destination, source, count)
    }

    /// Whether stderr is a terminal (for the progress line).
    package static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Writes `text` to stderr.
    package static func writeStderr(_ text: String) {
        var t = text
        t.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
    }

    /// Online CPUs.
    package static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Configured (possible) CPUs, Linux's default area count before rounding.
    package static var possibleProcessorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))) }
}
