/// Offsets in Linux's `struct lppaca`, the Virtual Processor Area
/// (`arch/powerpc/include/asm/lppaca.h`; offsets follow from the field layout), that the
/// guest writes before `H_REGISTER_VPA` and the hypervisor reads and updates. Big-endian.
/// One ABI shared by the guest kernel and the hypervisor models.
public enum LPPACALayout {
    /// `desc` (be32), set by `init_lppaca()` to ``descriptorValue``.
    public static let descriptor = 0x00
    /// `size` (be16): the length `H_REGISTER_VPA` reads (`struct reg_vpa`, offset 4).
    public static let size = 0x04
    /// `yield_count` (be32): odd while the vCPU is preempted, even while it runs.
    public static let yieldCount = 0x100
    /// `enqueue_dispatch_tb` (be64): total stolen time, enqueue to dispatch.
    public static let enqueueDispatchTB = 0x158
    /// `ready_enqueue_tb` (be64).
    public static let readyEnqueueTB = 0x160
    /// `dtl_idx` (be64): how many DTL entries the hypervisor has written.
    public static let dtlIndex = 0x218
    /// `sizeof(struct lppaca)` as KVM checks it at `H_REGISTER_VPA`: 640 bytes.
    public static let minimumSize = 640
    /// `LPPACA_SIZE` in Linux: the 1 KiB each vCPU's LPPACA takes (and the `size` written).
    public static let allocationSize = 0x400
    /// The `desc` value `init_lppaca()` writes: 0xd397d781.
    public static let descriptorValue: UInt32 = 0xD397_D781
}
