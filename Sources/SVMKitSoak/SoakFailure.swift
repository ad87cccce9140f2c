/// One thing a soak found wrong, with what it takes to reproduce it.
public struct SoakFailure: Hashable, Sendable, Codable, CustomStringConvertible {
    /// What kind of check failed.
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        /// Data read back (or stored by the device) differs from what was written.
        case checksumMismatch = "checksum-mismatch"
        /// An isolation violation: the hypervisor (or a normal vCPU) touched a page the
        /// page states forbid it.
        case isolationViolation = "isolation-violation"
        /// An invariant of the machine or the kernel failed (the façade's report, the
        /// shared-page audit, pool and ledger bookkeeping, a page in the wrong state).
        case invariant
        /// An operation the guest should have been able to do failed (an error from the
        /// DMA API, the driver, the allocator, a share or an unshare).
        case operation
        /// The partition stopped or the kernel did not come back after a kexec.
        case machine
        /// The guest kernel hung: a map spun for ever in Linux 6.1's SWIOTLB slot search
        /// (`SWIOTLBScanHang`, `kernel/dma/swiotlb.c: swiotlb_do_find_slots (6.1)`).
        case hang
        /// A block request (or a mapping) could never be mapped: the bounce pool was full
        /// and nothing released a slot, or the transfer fits no pool. Linux requeues such
        /// a request for ever and the task hangs (`BlockIOStall`); not to be confused
        /// with ``hang``, a CPU spinning in 6.1's slot search.
        case stall
    }

    /// What kind of check failed.
    public let kind: Kind
    /// The kexec cycle (0 = the first kernel).
    public let cycle: Int
    /// The vCPU whose thread found it, or `nil` for checks between cycles.
    public let vcpu: Int?
    /// The vCPU's operation number in the run (from 1), when an operation found it.
    public let operation: Int?
    /// That operation's kind.
    public let operationKind: SoakOperationKind?
    /// What was wrong, naming addresses, sectors and pages.
    public let message: String
    /// The seed of the run.
    public let seed: UInt64
    /// A command line that runs the same operations up to this point.
    public let reproduce: String

    /// Makes a failure record.
    public init(
        kind: Kind, cycle: Int, vcpu: Int?, operation: Int?, operationKind: SoakOperationKind?, message: String,
        seed: UInt64, reproduce: String
    ) {
        self.kind = kind
        self.cycle = cycle
        self.vcpu = vcpu
        self.operation = operation
        self.operationKind = operationKind
        self.message = message
        self.seed = seed
        self.reproduce = reproduce
    }

    /// e.g. `checksum-mismatch: seed 1, cycle 3, vCPU 2, operation 201 (block-read): …`.
    public var description: String {
        var place = "seed \(seed), cycle \(cycle)"
        if let vcpu { place += ", vCPU \(vcpu)" }
        if let operation { place += ", operation \(operation)" }
        if let operationKind { place += " (\(operationKind.rawValue))" }
        return "\(kind.rawValue): \(place): \(message)"
    }
}
