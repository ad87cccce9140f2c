import SVMKit
import Hypervisor
import SecureGuest

/// What one vCPU thread works with during one kexec cycle; the runner sets it up on
/// the cycle's kernel before the threads start.
struct SoakCycle: Sendable {
    /// The cycle number (0 = the first kernel).
    let cycle: Int
    /// The kernel of this cycle.
    let kernel: GuestKernel
    /// The vCPU's driver for its own virtual disk.
    let driver: VirtualBlockDriver
    /// The disk behind it (the hypervisor's side, for checking what it stored).
    let device: VirtualBlockDevice
    /// A private buffer of ``SoakConfiguration/maximumTransferBytes`` bytes, plus the
    /// largest of ``SoakConfiguration/directIOOffsets``.
    let buffer: UInt64
    /// The first of ``SoakConfiguration/churnPages`` private pages.
    let churnBase: UInt64
    /// Operations to run in this cycle.
    let operations: Int
    /// When to stop, if the soak has a time limit.
    let deadline: ContinuousClock.Instant?
}

/// A check that failed inside an operation.
struct SoakCheckFailure: Error {
    /// What kind of failure.
    let kind: SoakFailure.Kind
    /// What was wrong.
    let message: String

    init(_ kind: SoakFailure.Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Hex for messages.
func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
