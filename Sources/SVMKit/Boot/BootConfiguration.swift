public import ESM
@_spi(Firmware) public import PEFMachine
public import SecureGuest

/// What to boot: every input of `svmkit boot`, each optional. With nothing given,
/// SVMKit makes a TPM key (held by the embedded software TPM), a kernel, an initrd
/// and an ESM blob whose lockbox-1 opens with that key and which carries a `rootd`
/// attachment, so the default boot succeeds (issue "Secure boot end to end", item 2).
public struct BootConfiguration: Hashable, Sendable {
    /// Guest RAM (`--memory`, default 4 GiB); ignored when ``deviceTree`` is given.
    public var memoryBytes: UInt64 = 4 << 30
    /// vCPUs (`--cpus`, default 4); ignored when ``deviceTree`` is given.
    public var cpuCount: Int = 4
    /// The kernel command line (`--cmdline`), written to `/chosen/bootargs` (and into
    /// the ESM blob's bootargs digest when SVMKit makes the blob). The default,
    /// ``defaultCommandLine``, carries `swiotlb=force`, which 6.1 and 6.12 need to get
    /// a bounce pool at all (`LinuxVersion.secureGuestPoolWithoutForce`).
    public var commandLine: String = BootConfiguration.defaultCommandLine
    /// Which Linux series the guest behaves as (`--linux`; default 6.12).
    public var linux: LinuxVersion = .newest
    /// Which DMA ops the virtual disk gets (`--dma-path`; default the DDW bypass).
    public var dmaPath: DMAPath = .ddwBypass
    /// Which Linux driver the virtual disk has (`--disk`): virtio-blk (the default) or
    /// NVMe, whose `min_align_mask` changes how its buffers bounce (`VirtualDiskKind`).
    public var disk: VirtualDiskKind = .virtio
    /// A device tree to boot from (`--fdt`, e.g. a QEMU `dumpdtb` file); memory and
    /// vCPU count then come from it.
    public var deviceTree: [UInt8]?
    /// The kernel image as `objcopy -O binary` makes it (`--kernel`).
    public var kernel: [UInt8]?
    /// Where the kernel goes (`--kbase`): else `/chosen/qemu,boot-kernel`, else 0x400000.
    public var kernelBase: UInt64?
    /// The initrd as given (`--initrd`). Unless ``wrapperBlob`` is set, SVMKit puts
    /// an ESM blob in front of it only if it has none and SVMKit made the blob.
    public var initrd: [UInt8]?
    /// An ESM blob placed by `/chosen/linux,esm-blob-start/-end` (`--esm`): the
    /// boot-wrapper path.
    public var wrapperBlob: [UInt8]?
    /// Which TPM holds the wrapping key (`--tpm`): the embedded software TPM (the
    /// default) or an external one such as swtpm (`--tpm swtpm:HOST:PORT --tpm-dir DIR`),
    /// whose public key `lockbox-1` of a blob SVMKit makes is wrapped to.
    public var tpm: BootTPM = .embedded
    /// The PEM private key the embedded TPM holds at 0x81800001 (`--tpm-key`). Only with
    /// ``tpm`` `.embedded`: an external TPM keeps its private key.
    public var tpmKeyPEM: String?
    /// What the Ultravisor does when an integrity check fails (`--esm-check`); `nil`
    /// (the default) takes the firmware profile's own (``effectiveESMCheckPolicy``).
    public var esmCheckPolicy: ESMCheckPolicy?
    /// Which Ultravisor to play (`--firmware`): the documented ABI (the default) or the
    /// public firmware's observable behaviour.
    public var firmware: FirmwareProfile = .documented
    /// What a hypervisor access to a secure page does (`--hv-touch`): page it out and
    /// see ciphertext, as KVM does (the default), or stop at once (a debugging mode).
    public var hypervisorTouch: HypervisorTouch = .pageOut
    /// Seed of the machine's generator (`--seed`).
    public var seed: UInt64 = 1

    /// `svm=on swiotlb=force console=hvc0`: a correct modern deployment. Without
    /// `swiotlb=force` a 6.1 or 6.12 secure guest has no SWIOTLB pool and its virtual
    /// disk DMAs straight at secure memory (reference/linux-guest-facts.md §1.3).
    public static let defaultCommandLine = "svm=on swiotlb=force console=hvc0"

    /// The defaults.
    public init() {}

    /// The ESM check policy in force: ``esmCheckPolicy`` if set, else `warn` under
    /// `FirmwareProfile.openPower` (the public firmware's default build
    /// defines `ESM_BLOB_CHK_WARN_ONLY`, `core/uvcall.c: uv_esm_svm`) and `enforce`
    /// under `FirmwareProfile.documented`.
    public var effectiveESMCheckPolicy: ESMCheckPolicy {
        esmCheckPolicy ?? (firmware == .openPower ? .warn : .enforce)
    }
}
