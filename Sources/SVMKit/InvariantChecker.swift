import Hypervisor
import PEFMachine
import PowerABI
import SecureGuest
import Ultravisor

/// The invariants of issue 8 item 3, checked on a whole partition between
/// operations: after a boot, a kexec, a fault scenario, or any step of a soak.
///
/// 1. **Isolation**: no access the page states forbade, unless the run is a
///    deliberately buggy guest (``toleratesIsolationViolations``; the violations are
///    still counted and reported by the boot report), or the page is one the guest
///    believes shared because it ignored a failed share's status as Linux does (the
///    hypervisor then touches secure memory exactly as it would on hardware: a
///    finding about Linux, ``findings(_:)``). One access is not counted: the
///    real Ultravisor's `svm_initiate_kill` asks for `ibm,os-term` with args[0] = 0
///    (reference/ultravisor-facts.md §2.9), so the hypervisor reads the message at
///    GPA 0, a secure page. That is the firmware's documented behaviour when it kills
///    an SVM, not a guest's or a device's mistake (``isUltravisorKillMessageRead(_:)``).
/// 2. **Ledger = the Ultravisor's view**: every page in `SHARED`/`SHARED_INV` is in the
///    running kernel's ledger and every ledger page is shared, and no page is
///    mid-share. The ledger holds what Linux believes; where the two differ because
///    Linux ignored a share or unshare status (`svm.c`, `paca.c`, `core_64.c` (6.12)),
///    the mismatch is a finding about Linux (``findings(_:)``), not a violation.
///    Pages a previous kernel left shared (crash kexec, or a failed
///    `UV_UNSHARE_ALL_PAGES`) are inherited, not leaks: they are listed at the kexec
///    and reported there.
/// 3. **The hypervisor's view covers the Ultravisor's**: every frame in a shared state
///    (explicit, implicit or pseudo) is one the hypervisor handed over as shared
///    (``hypervisorView(memory:hypervisorShared:)`` says why it may know more).
/// 4. **After a normal kexec no explicit share remains** (reference/linux-guest-facts.md
///    §1.7), read from the audit the kernel took right after `UV_UNSHARE_ALL_PAGES`,
///    unless that call answered an error, which `default_machine_kexec()` ignores: then
///    the shares left are a finding about Linux.
/// 5. **Page-outs are ciphertext**: for every page the Ultravisor has paged out and not
///    paged back in, what the hypervisor holds must authenticate under the Ultravisor's
///    key with the IV and tag it kept (AES-128-GCM, §6 row 13) and differ from the
///    plaintext it decrypts to. A page paged back in was authenticated by `UV_PAGE_IN`
///    itself (`U_P3` on "tampering"), so every page-out is covered by one or the other.
/// 6. A guest that is not secure has no page in a shared state; the kernel did not
///    stop with an error; `UV_ESM` did not continue past a failed check.
///
/// Invariants 2, 3 and the first of 6 are about a running partition: once it has
/// stopped (os-term, a kill) nothing runs in it, and the page states a failed abort
/// or kill leaves behind (e.g. `H_SVM_INIT_ABORT` refused with `H_STATE`, which KVM
/// answers once `H_SVM_INIT_DONE` has passed) no longer decide who touches what.
/// Isolation and page-out ciphertext are checked whatever the state.
public struct InvariantChecker: Hashable, Sendable {
    /// For deliberately buggy guests: isolation violations are expected (they are how
    /// the bug is caught), so they do not count as invariant failures.
    public var toleratesIsolationViolations: Bool

    /// A checker; isolation violations count unless `toleratesIsolationViolations`.
    public init(toleratesIsolationViolations: Bool = false) {
        self.toleratesIsolationViolations = toleratesIsolationViolations
    }

    /// What the checker reads of a partition.
    public struct Subject: Sendable {
        /// The machine.
        public var machine: Machine
        /// Its Ultravisor.
        public var ultravisor: Ultravisor
        /// Its hypervisor.
        public var hypervisor: Hypervisor
        /// The guest kernel now running (or the last one), if any.
        public var kernel: GuestKernel?
        /// The last kexec, if any.
        public var kexec: KexecReport?
        /// Why the guest kernel stopped, if it did.
        public var kernelError: String?
        /// Frames a previous kernel left explicitly shared at a kexec.
        public var inheritedShares: Set<GuestFrameNumber>
        /// Frames an earlier kernel believed shared because it ignored a failed share's
        /// status, as Linux does (the running kernel's own are read from its ledger).
        public var ignoredStatusFrames: Set<GuestFrameNumber>

        /// Makes a subject.
        public init(
            machine: Machine, ultravisor: Ultravisor, hypervisor: Hypervisor, kernel: GuestKernel? = nil,
            kexec: KexecReport? = nil, kernelError: String? = nil, inheritedShares: Set<GuestFrameNumber> = [],
            ignoredStatusFrames: Set<GuestFrameNumber> = []
        ) {
            self.ignoredStatusFrames = ignoredStatusFrames
            self.machine = machine
            self.ultravisor = ultravisor
            self.hypervisor = hypervisor
            self.kernel = kernel
            self.kexec = kexec
            self.kernelError = kernelError
            self.inheritedShares = inheritedShares
        }
    }

    /// Every invariant that does not hold, in the order of the type's list.
    public func check(_ s: Subject) -> [InvariantViolation] {
        var out: [InvariantViolation] = []
        if let e = s.kernelError { out.append(.init(.kernelError, "the guest kernel stopped: \(e)")) }
        if !toleratesIsolationViolations {
            let explained = Self.framesBelievedShared(s)
            out += Self.isolation(s.machine.memory.violations.filter { !explained.contains($0.address.frame) })
        }
        if let k = s.kexec { out += Self.kexec(k) }
        out += Self.pageOuts(s)
        if let e = s.ultravisor.esmReport(lpid: s.machine.lpid), e.outcome == .secureDespiteFailedCheck {
            out.append(
                .init(.esmCheckIgnored, "UV_ESM: \(e.failedChecks.count) check(s) failed, continued under --esm-check warn"))
        }
        // The page states decide who may touch what only while the partition runs.
        guard !s.machine.isStopped else { return out }
        if let kernel = s.kernel, s.machine.bootProcessor.isSecure {
            out += Self.ledger(kernel.audit("invariants"), inherited: s.inheritedShares)
        } else {
            out += Self.transient(s.machine.memory)
        }
        out += Self.hypervisorView(memory: s.machine.memory, hypervisorShared: s.hypervisor.sharedFrames)
        if !s.machine.bootProcessor.isSecure {
            let shared = s.machine.memory.frames(where: \.isShared)
            if !shared.isEmpty {
                out.append(
                    .init(
                        .sharedWhileNotSecure,
                        "the guest is not secure but \(shared.count) page(s) are still shared: " + Self.frames(shared)))
            }
        }
        return out
    }

    /// Frames the guest believes shared only because it ignored a failed share's
    /// status: the running kernel's and earlier kernels' (``Subject/ignoredStatusFrames``).
    static func framesBelievedShared(_ s: Subject) -> Set<GuestFrameNumber> {
        var frames = s.ignoredStatusFrames
        if let kernel = s.kernel { frames.formUnion(kernel.ledger.failedShares) }
        return frames
    }

    // MARK: The invariants one by one

    /// Isolation violations, except the Ultravisor's own kill-message read.
    public static func isolation(_ violations: [IsolationViolation]) -> [InvariantViolation] {
        let counted = violations.filter { !isUltravisorKillMessageRead($0) }
        guard !counted.isEmpty else { return [] }
        return [
            .init(
                .isolation,
                "\(counted.count) isolation violation(s): " + counted.prefix(3).map(\.description).joined(separator: "; "))
        ]
    }

    /// Whether `v` is the hypervisor reading the `ibm,os-term` message at GPA 0 that
    /// `svm_initiate_kill` points it at (reference/ultravisor-facts.md §2.9). A guest's
    /// own os-term cannot produce it: a secure guest's message goes through a bounce
    /// buffer (§5.4), and a normal guest's page 0 is not secure.
    public static func isUltravisorKillMessageRead(_ v: IsolationViolation) -> Bool {
        v.caller.kind == .hypervisor && v.access == .read && v.address.rawValue == 0
            && v.purpose == "ibm,os-term message"
    }

    /// The ledger against the page states (an audit the kernel took), inherited
    /// frames excepted.
    public static func ledger(_ audit: SharedPageAuditReport, inherited: Set<GuestFrameNumber> = []) -> [InvariantViolation] {
        var out: [InvariantViolation] = []
        let leaks = audit.ledger.leaks.filter { !inherited.contains($0) }
        if !leaks.isEmpty {
            out.append(
                .init(.ledgerLeak, "\(leaks.count) page(s) shared that the guest's ledger does not know: " + frames(leaks)))
        }
        if !audit.ledger.losses.isEmpty {
            let losses = audit.ledger.losses
            out.append(
                .init(
                    .ledgerLoss,
                    "\(losses.count) page(s) in the ledger that are not shared: "
                        + losses.prefix(4).map { "\($0.frame) \($0.owner.rawValue) from \($0.callSite)" }.joined(separator: ", ")))
        }
        if audit.transient > 0 {
            out.append(.init(.transientPage, "\(audit.transient) page(s) caught mid-share or mid-unshare"))
        }
        return out
    }

    /// Pages in a transient state (for a partition with no secure kernel to audit).
    public static func transient(_ memory: GuestMemory) -> [InvariantViolation] {
        let stuck = memory.frames(where: \.isTransient)
        guard !stuck.isEmpty else { return [] }
        return [.init(.transientPage, "\(stuck.count) page(s) caught mid-share or mid-unshare: " + frames(stuck))]
    }

    /// The hypervisor's shared frames against the page states: every page in a shared
    /// state must be one the hypervisor handed over as shared (`H_SVM_PAGE_IN` with
    /// `H_PAGE_IN_SHARED`, answered by `UV_PAGE_IN`). The hypervisor's list may hold
    /// more: when a share fails part way the Ultravisor puts the pages it had touched
    /// back to secure without telling the hypervisor (reference/ultravisor-facts.md
    /// §5.2), so KVM still counts them as shared; that is the protocol, not a breach.
    public static func hypervisorView(memory: GuestMemory, hypervisorShared: [UInt64]) -> [InvariantViolation] {
        let hv = Set(hypervisorShared)
        let unknown = memory.frames(where: \.isShared).filter { !hv.contains($0.rawValue) }
        guard !unknown.isEmpty else { return [] }
        return [
            .init(
                .hypervisorView,
                "\(unknown.count) page(s) are shared that the hypervisor never handed over as shared: " + frames(unknown))
        ]
    }

    /// Explicit shares left by a normal kexec of a secure guest whose
    /// `UV_UNSHARE_ALL_PAGES` answered success (after an error Linux ignores, they are
    /// a finding, ``findings(_:)``).
    public static func kexec(_ k: KexecReport) -> [InvariantViolation] {
        guard k.kind == .normal, k.secure, k.audit.explicitlyShared != 0, !k.unshareAllReportedFailure
        else { return [] }
        let status = k.unshareAllStatus.map { " (UV_UNSHARE_ALL_PAGES answered \($0.name))" } ?? ""
        return [.init(.sharesAfterKexec, "after a normal kexec \(k.audit.explicitlyShared) explicit share(s) remain" + status)]
    }

    /// Every page-out the hypervisor holds, checked against the Ultravisor's key: it must
    /// authenticate (unless the hypervisor has since stored into it) and must not be the
    /// plaintext.
    public static func pageOuts(_ s: Subject) -> [InvariantViolation] {
        let lpid = s.machine.lpid
        var bad: [String] = []
        let frames = Set(s.ultravisor.pagedOutFrames(lpid: lpid)).union(
            s.machine.memory.frames(where: { $0 == .pagedOut }).map(\.rawValue))
        for frame in frames.sorted() {
            let gpa = "0x" + String(frame << PageSize.shift, radix: 16)
            guard let held = s.hypervisor.pagedOutPage(frame: frame, on: s.machine) else {
                bad.append("\(gpa): paged out, but the hypervisor holds no copy")
                continue
            }
            guard let plaintext = s.ultravisor.openPageOut(lpid: lpid, frame: frame, bytes: held.bytes) else {
                // The hypervisor may store into the page it holds; the ciphertext then no
                // longer authenticates, as on hardware (the next UV_PAGE_IN answers U_P3).
                if s.machine.memory.isHypervisorWritten(GuestFrameNumber(rawValue: frame)) { continue }
                bad.append("\(gpa): the hypervisor's copy does not authenticate under the Ultravisor's key")
                continue
            }
            if plaintext == held.bytes { bad.append("\(gpa): the hypervisor holds the plaintext") }
        }
        guard !bad.isEmpty else { return [] }
        return [.init(.pageOutNotCiphertext, "\(bad.count) page-out(s): " + bad.prefix(3).joined(separator: "; "))]
    }

    static func frames(_ f: [GuestFrameNumber]) -> String {
        f.prefix(4).map(\.description).joined(separator: ", ") + (f.count > 4 ? ", …" : "")
    }
}
