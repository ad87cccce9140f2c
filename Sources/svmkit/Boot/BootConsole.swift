import Foundation
import SVMKit

/// The human form of a boot: the kernel log, then a summary.
enum BootConsole {
    static func render(_ r: BootReport, image: BootImage) -> String {
        var out: [String] = r.kernelLog
        if !r.console.isEmpty { out.append(contentsOf: r.console.split(separator: "\n").map { "hvc0: \($0)" }) }
        out.append("")
        out.append("== svmkit boot summary")
        out.append("  guest        \(ByteCountText.describe(image.memoryBytes)), \(image.cpuCount) vCPU(s), kbase \(image.kernelBase), fdt \(image.fdtAddress)")
        out.append("  secure       \(r.secure ? "yes" : "no") (asked: \(r.requestedSecure ? "svm=on" : "svm off"))  /sys/devices/system/cpu/svm = \(r.sysfsSVM)")
        out.append("  UV_ESM       \(r.esmResult.map(String.init) ?? "not called")")
        if let f = r.esmFailure { out.append("  ESM failure  \(f)") }
        for e in BootExplanations.explain(r) { out.append("  explained    \(e)") }
        if let o = r.osTerm { out.append("  os-term      \"\(o)\"") }
        if let s = r.stopReason { out.append("  stopped      \(s)") }
        if !r.esmChecks.isEmpty {
            out.append("  ESM checks")
            for c in r.esmChecks { out.append("    [\(c.passed ? "pass" : "FAIL")] \(c.check): \(c.detail)") }
        }
        if !r.reservedRegions.isEmpty { out.append("  reserve map  " + r.reservedRegions.joined(separator: ", ")) }
        let shared = r.sharedPages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out.append("  shared pages \(shared.isEmpty ? "none" : shared)")
        for a in r.audits { out.append("  audit        \(a)") }
        if let k = r.kexec { out.append("  kexec        \(k)") }
        out.append("  isolation    \(r.isolationViolations) violation(s)")
        if !r.bugs.isEmpty { out.append("  bugs         " + r.bugs.joined(separator: ", ") + " (deliberate: isolation violations tolerated)") }
        if let h = r.hang { out.append("  HANG         \(h)") }
        if let b = r.blockDeviceCheck { out.append("  block I/O    \(b.detail)") }
        for d in r.diagnoses { out.append("  DIAGNOSIS    \(d)") }
        for f in r.guestFaults { out.append("  CULPRIT      \(f)") }
        if !r.invariantFailures.isEmpty { for f in r.invariantFailures { out.append("  INVARIANT    \(f)") } }
        for d in r.commandLineDiagnostics { out.append("  cmdline      \(d)") }
        let calls = r.calls.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out.append("  calls        \(calls)")
        out.append(String(format: "  time         %.6f s simulated, %.3f s wall", r.simulatedSeconds, r.wallSeconds))
        return out.joined(separator: "\n")
    }
}

/// Sizes as people read them.
enum ByteCountText {
    static func describe(_ bytes: UInt64) -> String { ByteCount.describe(bytes) }
}
