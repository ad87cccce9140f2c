public import ESM
@_spi(Firmware) public import PEFMachine
public import TPM

/// How the simulated Ultravisor is built: the choices its firmware makes at build
/// time and the parameters it reads from its own boot device tree.
public struct UltravisorConfiguration: Hashable, Sendable {
    /// The TPM wrapping key the Ultravisor unwraps `lockbox-1` with: the properties of
    /// its boot FDT node `compatible = "ibm,uv-tpm"` (§2.7).
    public typealias WrappingKey = TPMWrappingKeyConfiguration

    /// What `UV_ESM` does when the integrity check of reference/ultravisor-facts.md
    /// §2.6 fails: `enforce` (the default) aborts, as a production build does; `warn`
    /// pages everything in and goes secure anyway, as the firmware's HEAD build does
    /// with `ESM_BLOB_CHK_WARN_ONLY` defined (§0). The one `ESM.ESMCheckPolicy`.
    public var esmCheckPolicy: ESMCheckPolicy
    /// The TPM wrapping key, if the Ultravisor's boot FDT has an `ibm,uv-tpm` node.
    /// Without one, `UV_ESM` cannot open `lockbox-1` and its `lockbox-1` check fails.
    public var wrappingKey: WrappingKey?
    /// Which firmware to play: the documented ABI (the default) or the public
    /// firmware's observable behaviour (``/PEFMachine/FirmwareProfile``).
    public var firmware: FirmwareProfile

    /// A configuration.
    public init(
        esmCheckPolicy: ESMCheckPolicy = .enforce, wrappingKey: WrappingKey? = nil,
        firmware: FirmwareProfile = .documented
    ) {
        self.esmCheckPolicy = esmCheckPolicy
        self.wrappingKey = wrappingKey
        self.firmware = firmware
    }
}
