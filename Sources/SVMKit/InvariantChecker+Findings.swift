import PEFMachine
import PowerABI
import SecureGuest

/// Findings about Linux: what the guest did because it ignores the Ultravisor's status
/// as Linux does. They are reported (``SecureVirtualMachine/report(wallSeconds:)``'s
/// guest faults, the soak's `linuxFindings`), never counted as invariant failures,
/// since SVMKit's guest is behaving exactly as the real kernel would.
extension InvariantChecker {
    /// One finding about Linux.
    public struct Finding: Hashable, Sendable, CustomStringConvertible {
        /// What kind of finding.
        public enum Kind: String, Hashable, Sendable, CaseIterable {
            /// Pages whose state differs from what Linux believes because it ignored a
            /// share or unshare status.
            case ignoredStatus = "ignored status"
            /// The hypervisor touched a page the guest believes shared because it ignored
            /// a failed share's status: on hardware KVM would page it out and read
            /// ciphertext; the guest's registration or DMA then goes wrong later.
            case hypervisorTouchedUnsharedPage = "hypervisor touched a page Linux believes shared"
            /// A normal kexec's `UV_UNSHARE_ALL_PAGES` failed, Linux printed "kexec:
            /// Unshared all shared pages." anyway, and the next kernel inherits shares.
            case sharesAfterFailedUnshareAll = "shares after a failed UV_UNSHARE_ALL_PAGES"
        }

        /// The kind.
        public let kind: Kind
        /// The frames concerned.
        public let frames: [GuestFrameNumber]
        /// What happened, naming the call, the status and the owner.
        public let detail: String

        /// e.g. `ignored status: dtl_cache_ctor ignored UV_SHARE_PAGE's U_P2 …`.
        public var description: String { "\(kind.rawValue): \(detail)" }
    }

    /// Every finding about Linux in the partition now: the running kernel's ledger
    /// mismatches that an ignored status explains, and the shares a normal kexec left
    /// after its `UV_UNSHARE_ALL_PAGES` failed.
    public func findings(_ s: Subject) -> [Finding] {
        var out: [Finding] = []
        let believed = Self.framesBelievedShared(s)
        let touched = s.machine.memory.violations.filter { believed.contains($0.address.frame) }
        if !touched.isEmpty {
            out.append(
                Finding(
                    kind: .hypervisorTouchedUnsharedPage, frames: Array(Set(touched.map(\.address.frame))).sorted(),
                    detail: "\(touched.count) access(es) to pages Linux believes shared: "
                        + touched.prefix(3).map(\.description).joined(separator: "; ")))
        }
        if let k = s.kexec, k.kind == .normal, k.secure, k.audit.explicitlyShared != 0,
            k.unshareAllReportedFailure, let status = k.unshareAllStatus
        {
            out.append(
                Finding(
                    kind: .sharesAfterFailedUnshareAll, frames: [],
                    detail:
                        "UV_UNSHARE_ALL_PAGES answered \(status.name), default_machine_kexec() ignored it (arch/powerpc/kexec/core_64.c, 6.12), \(k.audit.explicitlyShared) explicit share(s) remain for the next kernel"
                ))
        }
        if let kernel = s.kernel, !s.machine.isStopped {
            let mismatches = kernel.audit("findings").ledger.ignoredStatusMismatches
            for run in GuestKernel.ignoredStatusRuns(mismatches) {
                let frames = (0..<UInt64(run.count)).map { GuestFrameNumber(run.first.rawValue + $0) }
                out.append(Finding(kind: .ignoredStatus, frames: frames, detail: run.description))
            }
        }
        return out
    }
}
