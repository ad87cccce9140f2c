public import SWIOTLB

/// What a soak did and found, as `svmkit soak --json` prints it. A run passes when
/// ``failures`` is empty: no checksum mismatch, no invariant failure, no isolation
/// violation, no failed operation, no hang or stall. Maps requeued because the bounce
/// pool was full (``requeues``) are not failures.
public struct SoakReport: Hashable, Sendable, Codable {
    /// The seed of the run.
    public var seed: UInt64
    /// vCPUs (worker threads).
    public var cpus: Int
    /// Guest RAM in bytes.
    public var memoryBytes: UInt64
    /// Operations done, by kind (every kind present, zero included).
    public var operations: [String: Int]
    /// All operations done.
    public var totalOperations: Int
    /// Bytes written to the virtual disks.
    public var bytesWritten: UInt64
    /// Bytes read from the virtual disks.
    public var bytesRead: UInt64
    /// Bytes the guest kernels bounced through their SWIOTLB pools (every streaming
    /// mapping: block transfers and bidirectional mappings).
    public var bytesBounced: UInt64
    /// Kexec cycles completed (the next kernel booted and passed its checks).
    public var kexecCycles: Int
    /// Of those, normal kexecs (`UV_UNSHARE_ALL_PAGES` first).
    public var normalKexecs: Int
    /// Of those, crash kexecs (shares left in place for the next kernel).
    public var crashKexecs: Int
    /// Sector checksums compared (each sector read back or stored by the device).
    public var sectorsChecked: Int
    /// Sector checksums that did not match.
    public var checksumMismatches: Int
    /// Invariant checks run (after every cycle and every kexec).
    public var invariantChecks: Int
    /// Invariant failures found.
    public var invariantFailures: Int
    /// Isolation violations the machine recorded that no finding about Linux explains.
    public var isolationViolations: Int
    /// Findings about Linux: pages whose state differs from what the guest believes
    /// because it ignored a share or unshare status as Linux does (with injected
    /// `faults`), and the hypervisor's accesses to them. Reported, never a failure.
    public var linuxFindings: Int
    /// The first operations that failed as a consequence of such a status (e.g. a disk
    /// whose queue share failed), counted in ``linuxFindings``.
    public var linuxFindingSamples: [String]
    /// Operations that failed with an error.
    public var operationErrors: Int
    /// Maps that found the SWIOTLB pool full and were retried once another mapping was
    /// released: block transfers, for which the driver's `queue_rq()` returned
    /// `BLK_STS_RESOURCE` and blk-mq requeued the request (`VirtualBlockDriver`), and
    /// bidirectional mappings, which the soak retries the same way. Not failures; a
    /// request that could never be mapped is a failure of kind `stall`.
    public var requeues: Int
    /// Ultracalls and hypercalls made, by name.
    public var calls: [String: Int]
    /// Wall time of the run.
    public var wallSeconds: Double
    /// Every failure, in the order found (at most ``SoakRunner/failureLimit``).
    public var failures: [SoakFailure]
    /// The Linux series the guests behaved as (`--linux`), e.g. `6.1`.
    public var linux: String
    /// Which driver the virtual disks had (`--disk`): `virtio` or `nvme`.
    public var disk: String
    /// The map on which the guest hung in 6.1's `swiotlb_do_find_slots()` (the request,
    /// the function, the fix), or `nil`. In `--json` the key is left out when there was
    /// no hang (as every optional of the soak report is), where `svmkit boot --json`
    /// writes `"hang": null`.
    public var hang: SWIOTLBScanHang?

    /// Whether nothing failed.
    public var passed: Bool {
        failures.isEmpty && checksumMismatches == 0 && invariantFailures == 0 && isolationViolations == 0
            && operationErrors == 0
    }

    /// The first failure, which a soak prints with its reproduction line: a hang if
    /// there was one (the other vCPUs' failures after it are its consequences, and
    /// another thread may record one before the hung map's own), else the first found.
    public var firstFailure: SoakFailure? { failures.first { $0.kind == .hang } ?? failures.first }

    /// Operations per second of wall time.
    public var operationsPerSecond: Double { wallSeconds > 0 ? Double(totalOperations) / wallSeconds : 0 }

    /// The summary `svmkit soak` prints.
    public var summary: String {
        func mib(_ b: UInt64) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
        var lines = ["== svmkit soak: " + (passed ? "PASSED" : "FAILED")]
        lines.append("  seed         \(seed) (\(cpus) vCPU(s), \(memoryBytes >> 20) MiB)")
        lines.append("  guest        Linux \(linux), \(disk) disks")
        lines.append(
            "  operations   \(totalOperations) in \(String(format: "%.1f", wallSeconds)) s ("
                + String(format: "%.0f", operationsPerSecond) + "/s): "
                + SoakOperationKind.allCases.map { "\($0.rawValue) \(operations[$0.rawValue] ?? 0)" }.joined(separator: ", "))
        lines.append(
            "  bytes        written \(mib(bytesWritten)), read \(mib(bytesRead)), bounced \(mib(bytesBounced))")
        lines.append("  kexec        \(kexecCycles) cycle(s): \(normalKexecs) normal, \(crashKexecs) crash")
        lines.append("  checksums    \(sectorsChecked) sector(s) checked, \(checksumMismatches) mismatch(es)")
        lines.append("  invariants   \(invariantChecks) check(s), \(invariantFailures) failure(s)")
        lines.append("  isolation    \(isolationViolations) violation(s)")
        lines.append("  linux        \(linuxFindings) finding(s) (statuses Linux ignores; not failures)")
        for sample in linuxFindingSamples.prefix(3) { lines.append("    \(sample)") }
        lines.append("  errors       \(operationErrors) failed operation(s)")
        lines.append("  requeues     \(requeues) map(s) found the bounce pool full and were retried after a release (BLK_STS_RESOURCE; not failures)")
        if let hang { lines.append("  hang         \(hang)") }
        if let first = firstFailure {
            lines.append("  first failure \(first)")
            lines.append("  reproduce    \(first.reproduce)")
            if failures.count > 1 { lines.append("  (\(failures.count - 1) more failure(s); --json lists them)") }
        }
        return lines.joined(separator: "\n")
    }

    /// One progress line: elapsed time, cycle, operations, bytes, failures.
    public var progressLine: String {
        let moved = Double(bytesWritten + bytesRead) / 1_048_576
        return String(format: "soak: %.0f s, ", wallSeconds) + "\(kexecCycles) kexec(s), \(totalOperations) op(s), "
            + String(format: "%.0f MiB moved, ", moved) + "\(failures.count) failure(s)"
    }
}
