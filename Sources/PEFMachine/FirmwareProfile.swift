/// Which Ultravisor SVMKit plays (`--firmware`).
public enum FirmwareProfile: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The ABI as `Documentation/arch/powerpc/ultravisor.rst` describes it: statuses in
    /// r3, the ESM integrity checks enforced (the default).
    case documented
    /// The public firmware's observable behaviour (open-power/ultravisor HEAD
    /// 63669595): share, unshare and unshare-all leave r3 at the ucall number
    /// (`core/uvcall.c`: the context ends with the saved frame); a failed ESM check
    /// only warns (`svm/svm-esm.c: svm_esm_blob_chk`, `ESM_BLOB_CHK_WARN_ONLY`);
    /// `UV_ESMB_GET_FILE` at an offset of 64 KiB or more trips the firmware's assert
    /// (`svm/svm-esmb.c: get_file_data`); an hcall the Ultravisor does not know aborts
    /// it; pages returned after an abort have undefined contents.
    case openPower = "open-power"

    /// The name `--firmware` takes.
    public var description: String { rawValue }
}
