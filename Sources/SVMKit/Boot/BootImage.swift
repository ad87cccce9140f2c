public import DeviceTree
public import PowerABI

/// A boot image laid out in guest memory, as QEMU and SLOF leave it just before
/// prom_init runs: the device tree, the kernel at `kbase`, the initrd (with the ESM
/// blob in front of it), SLOF's hv-RTAS stub at `linux,rtas-base`, and optionally a
/// boot-wrapper ESM blob.
public struct BootImage: Sendable {
    /// A byte range to load at an address.
    public struct Segment: Hashable, Sendable {
        /// What it is (`kernel`, `initrd`, `rtas`, `esm-blob`, `fdt`).
        public let name: String
        /// Guest-physical load address.
        public let address: GuestPhysicalAddress
        /// The bytes.
        public let bytes: [UInt8]

        /// One past the last byte.
        public var end: GuestPhysicalAddress { GuestPhysicalAddress(address.rawValue + UInt64(bytes.count)) }
    }

    /// The device tree as it will be placed at ``fdtAddress``.
    public var deviceTree: DeviceTree
    /// Where the device tree goes (r5 of `UV_ESM`).
    public let fdtAddress: GuestPhysicalAddress
    /// The kernel's base and entry point (r4 of `UV_ESM`).
    public let kernelBase: GuestPhysicalAddress
    /// Kernel, initrd, RTAS and wrapper-blob segments (the FDT is separate).
    public let segments: [Segment]
    /// The kernel command line written to `/chosen/bootargs`.
    public let commandLine: String
    /// The RAM size.
    public let memoryBytes: UInt64
    /// The vCPU count.
    public let cpuCount: Int
    /// The PEM private key the embedded TPM holds; empty when the key is in an external
    /// TPM (``BootTPM/external(_:)``), which keeps its private key.
    public let tpmKeyPEM: String
    /// The TPM key's public half as PEM: the recipient of `lockbox-1` in a blob SVMKit
    /// makes (derived from ``tpmKeyPEM``, or the external TPM's public key).
    public let tpmPublicKeyPEM: String
    /// Attachments SVMKit put in a blob it made (name → plaintext), to check
    /// `UV_ESMB_GET_FILE` against; empty when the blob came from outside.
    public let generatedAttachments: [String: [UInt8]]
    /// Whether SVMKit made the ESM blob itself.
    public let blobWasGenerated: Bool

    /// The segment called `name`, if any.
    public func segment(_ name: String) -> Segment? { segments.first { $0.name == name } }
}
