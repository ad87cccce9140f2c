import TPM

/// How the simulated hypervisor is set up.
public struct HypervisorConfiguration: Sendable {
    /// The TPM behind `H_TPM_COMM`; `nil` means "no TPM configured" (`H_FUNCTION`).
    public var tpm: (any TPMBackend)?
    /// Size of the partition's NVRAM (RTAS `nvram-fetch`/`nvram-store`).
    public var nvramBytes: Int
    /// How guest memory is cut into memory slots for `UV_REGISTER_MEM_SLOT`: `nil` for
    /// one slot covering all of it, or a slot size (a multiple of 64 KiB).
    public var memorySlotBytes: UInt64?
    /// System parameters RTAS `ibm,get-system-parameter` answers, by token, as raw data
    /// (without the 2-byte length). Defaults: 20 (SPLPAR characteristics) and 42
    /// (diagnostics run mode), as QEMU offers.
    public var systemParameters: [UInt32: [UInt8]]
    /// Whether QEMU enabled secure mode for this VM (`pef-guest`, KVM's
    /// `kvm->arch.svm_enabled`); without it `H_SVM_INIT_START` answers `H_AUTHORITY`.
    public var secureModeEnabled: Bool
    /// Whether the guest uses the radix MMU; only radix guests can become secure
    /// (`H_SVM_INIT_START` answers `H_UNSUPPORTED` for a hash guest).
    public var radix: Bool

    /// A configuration.
    public init(
        tpm: (any TPMBackend)? = nil, nvramBytes: Int = 64 * 1024, memorySlotBytes: UInt64? = nil,
        systemParameters: [UInt32: [UInt8]] = [
            20: Array("MaxEntCap=400,DesMem=4096,DesProcs=4,MaxPlatProcs=4,HostThrs=1".utf8), 42: [0],
        ],
        secureModeEnabled: Bool = true, radix: Bool = true
    ) {
        self.tpm = tpm
        self.nvramBytes = max(0, nvramBytes)
        self.memorySlotBytes = memorySlotBytes
        self.systemParameters = systemParameters
        self.secureModeEnabled = secureModeEnabled
        self.radix = radix
    }
}
