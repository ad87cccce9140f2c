import PowerABI

/// The RTAS bounce area of one SVM: 6 implicitly shared pages reserved by `UV_ESM`
/// (`svm/svm-rtas.c`, `svm/svm-rtas-bbuf.c`; reference/ultravisor-facts.md §2.5, §5.4):
/// page 0 for the Ultravisor's own `ibm,os-term`, pages 1–4 a pool of 64 buffers of
/// 4096 bytes, page 5 one 16-byte `stop-self` slot per vCPU.
struct RTASBounceState: Sendable {
    static let pageCount = 6
    static let bufferBytes = 4096
    static let bufferCount = 64
    static let warnAt = 32
    static let stopSelfSlotBytes = 16

    let base: GuestPhysicalAddress
    /// Service name → token, from `/rtas` at `UV_ESM` (stored globally in the firmware,
    /// per SVM here).
    let tokens: [String: UInt32]
    let maximumProcessors: Int
    var inUse: UInt64 = 0
    /// The FWNMI machine-check handler registered with `ibm,nmi-register` (default 0x200).
    var machineCheckHandler: UInt64 = 0x200

    var argumentsPage: GuestPhysicalAddress { base }
    var frames: Range<UInt64> { base.frame.rawValue..<(base.frame.rawValue + UInt64(Self.pageCount)) }

    func buffer(_ index: Int) -> GuestPhysicalAddress {
        GuestPhysicalAddress(rawValue: base.rawValue + PageSize.bytes + UInt64(index * Self.bufferBytes))
    }

    func stopSelfSlot(_ vcpu: Int) -> GuestPhysicalAddress {
        GuestPhysicalAddress(
            rawValue: base.rawValue + 5 * PageSize.bytes + UInt64((vcpu % 4096) * Self.stopSelfSlotBytes))
    }

    func service(for token: UInt32) -> String? { tokens.first { $0.value == token }?.key }
}
