/// One Dispatch Trace Log entry: Linux's `struct dtl_entry`
/// (`arch/powerpc/include/asm/lppaca.h`), 48 bytes, big-endian. The hypervisor writes
/// it at each dispatch (KVM's `kvmppc_create_dtl_entry()`); the guest reads it back in
/// `scan_dispatch_log()` (reference/linux-guest-facts.md, the DTL):
///
/// | offset | field |
/// |---|---|
/// | 0 | u8 dispatch_reason |
/// | 1 | u8 preempt_reason |
/// | 2 | be16 processor_id |
/// | 4 | be32 enqueue_to_dispatch_time |
/// | 8 | be32 ready_to_enqueue_time |
/// | 12 | be32 waiting_to_ready_time |
/// | 16 | be64 timebase |
/// | 24 | be64 fault_addr |
/// | 32 | be64 srr0 |
/// | 40 | be64 srr1 |
public struct DispatchTraceLogEntry: Hashable, Sendable {
    /// `sizeof(struct dtl_entry)`.
    public static let byteCount = 48

    /// Why the vCPU was dispatched (KVM writes 7).
    public var dispatchReason: UInt8
    /// Why it was preempted.
    public var preemptReason: UInt8
    /// The physical processor it ran on.
    public var processorID: UInt16
    /// Time from enqueue to dispatch, in timebase ticks: the stolen time.
    public var enqueueToDispatchTime: UInt32
    /// Time from ready to enqueue.
    public var readyToEnqueueTime: UInt32
    /// Time from waiting to ready.
    public var waitingToReadyTime: UInt32
    /// The timebase at dispatch.
    public var timebase: UInt64
    /// The faulting address, if the dispatch followed a fault.
    public var faultAddress: UInt64
    /// SRR0 (the vCPU's PC) at preemption.
    public var srr0: UInt64
    /// SRR1 (the vCPU's MSR) at preemption.
    public var srr1: UInt64

    /// Makes an entry.
    public init(
        dispatchReason: UInt8, preemptReason: UInt8, processorID: UInt16, enqueueToDispatchTime: UInt32,
        readyToEnqueueTime: UInt32 = 0, waitingToReadyTime: UInt32 = 0, timebase: UInt64, faultAddress: UInt64 = 0,
        srr0: UInt64, srr1: UInt64
    ) {
        self.dispatchReason = dispatchReason
        self.preemptReason = preemptReason
        self.processorID = processorID
        self.enqueueToDispatchTime = enqueueToDispatchTime
        self.readyToEnqueueTime = readyToEnqueueTime
        self.waitingToReadyTime = waitingToReadyTime
        self.timebase = timebase
        self.faultAddress = faultAddress
        self.srr0 = srr0
        self.srr1 = srr1
    }

    /// The 48 bytes as they sit in the log.
    public var encoded: [UInt8] {
        var out: [UInt8] = [dispatchReason, preemptReason]
        out.reserveCapacity(Self.byteCount)
        func put<T: FixedWidthInteger>(_ v: T) {
            let size = MemoryLayout<T>.size
            for i in 0..<size { out.append(UInt8(truncatingIfNeeded: v >> (8 * (size - 1 - i)))) }
        }
        put(processorID)
        put(enqueueToDispatchTime)
        put(readyToEnqueueTime)
        put(waitingToReadyTime)
        put(timebase)
        put(faultAddress)
        put(srr0)
        put(srr1)
        return out
    }

    /// Decodes 48 bytes; `nil` if there are fewer.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= Self.byteCount else { return nil }
        func get<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            (0..<MemoryLayout<T>.size).reduce(T.zero) { ($0 << 8) | T(truncatingIfNeeded: bytes[offset + $1]) }
        }
        dispatchReason = bytes[0]
        preemptReason = bytes[1]
        processorID = get(2, UInt16.self)
        enqueueToDispatchTime = get(4, UInt32.self)
        readyToEnqueueTime = get(8, UInt32.self)
        waitingToReadyTime = get(12, UInt32.self)
        timebase = get(16, UInt64.self)
        faultAddress = get(24, UInt64.self)
        srr0 = get(32, UInt64.self)
        srr1 = get(40, UInt64.self)
    }

    /// The stolen time this entry accounts for (`scan_dispatch_log()` adds
    /// enqueue-to-dispatch and ready-to-enqueue).
    public var stolenTicks: UInt64 { UInt64(enqueueToDispatchTime) + UInt64(readyToEnqueueTime) }
}
