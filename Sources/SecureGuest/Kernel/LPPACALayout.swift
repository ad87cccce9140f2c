/// The guest's view of `struct lppaca`, the Virtual Processor Area
/// (`arch/powerpc/include/asm/lppaca.h`): the fields the kernel writes before
/// `H_REGISTER_VPA` and the ones the hypervisor updates. Big-endian.
///
/// The hypervisor module keeps its own copy of these offsets (the guest and the
/// hypervisor share an ABI, not code); the tests check that they agree.
public enum LPPACAFields {
    /// `desc` (be32): 0xd397d781 ("LpPa" in EBCDIC-ish, set by `init_lppaca()`).
    public static let descriptor = 0x00
    /// `size` (be16): the length `H_REGISTER_VPA` reads.
    public static let size = 0x04
    /// `yield_count` (be32): the hypervisor bumps it around each preemption.
    public static let yieldCount = 0x100
    /// `enqueue_dispatch_tb` (be64): stolen time, enqueue to dispatch.
    public static let enqueueDispatchTB = 0x158
    /// `ready_enqueue_tb` (be64).
    public static let readyEnqueueTB = 0x160
    /// `dtl_idx` (be64): how many DTL entries the hypervisor has written.
    public static let dtlIndex = 0x218

    /// The `desc` value `init_lppaca()` writes.
    public static let descriptorValue: UInt32 = 0xD397_D781
    /// `LPPACA_SIZE`: the 1 KiB each vCPU's LPPACA takes (and the `size` written).
    public static let allocationSize: UInt64 = 0x400
}

/// One Dispatch Trace Log entry as the guest reads it: `struct dtl_entry`
/// (`arch/powerpc/include/asm/lppaca.h`), 48 bytes, big-endian.
public struct DispatchLogEntry: Hashable, Sendable {
    /// `sizeof(struct dtl_entry)`.
    public static let byteCount = 48

    /// `dispatch_reason`.
    public let dispatchReason: UInt8
    /// `preempt_reason`.
    public let preemptReason: UInt8
    /// `processor_id`.
    public let processorID: UInt16
    /// `enqueue_to_dispatch_time`, in timebase ticks.
    public let enqueueToDispatchTime: UInt32
    /// `ready_to_enqueue_time`, in timebase ticks.
    public let readyToEnqueueTime: UInt32
    /// `waiting_to_ready_time`.
    public let waitingToReadyTime: UInt32
    /// `timebase` at dispatch.
    public let timebase: UInt64
    /// `fault_addr`.
    public let faultAddress: UInt64
    /// `srr0` at preemption.
    public let srr0: UInt64
    /// `srr1` at preemption.
    public let srr1: UInt64

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
