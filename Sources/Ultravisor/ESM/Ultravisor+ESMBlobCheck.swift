import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI
import TPM

/// `svm_esm_blob_chk(kbase)` (`open-power/ultravisor svm/svm-esm.c`,
/// `svm/svm-esmb.c`; reference/ultravisor-facts.md §2.6). Every failure here is an
/// integrity-check failure: with the `warn` policy `UV_ESM` goes on (§0). The steps,
/// one function each after the firmware's, are in `Ultravisor+ESMBlobCheckSteps.swift`.
extension Ultravisor {
    /// Runs the checks in the firmware's order, recording each as an ``ESM/ESMCheck``:
    ///
    /// 1. `rtas-area` (``esmRTASArea(_:)``): `/rtas/linux,rtas-base`, `rtas-size`,
    ///    `slof,rtas-size`; ceil(rtas-size / 64 KiB) pages paged in and pseudo-shared;
    /// 2. `initrd-range` (``esmInitrdRange(_:)``): `/chosen/linux,initrd-start`/`-end`,
    ///    paged in (mandatory);
    /// 3. `bootargs-property` (``esmBootargs(_:)``): `/chosen/bootargs` (mandatory);
    /// 4. `esm-blob` (``esmBlob(_:initrd:)``): the wrapper properties
    ///    `/chosen/linux,esm-blob-start`/`-end`, else the `opt/ibm/pef` cpio entry in
    ///    front of the initrd (``ESM/ESMBlobLocator``);
    /// 5. `attachments` (``esmAttachments(_:blob:)``): the blob's `/file/files-fdt`
    ///    copied to the files-FDT page (a failure is only a notice);
    /// 6. the digest check (``esmDigestCheck(_:rtas:blob:initrd:bootargs:)``):
    ///    `lockbox-1` unwrapped by the TPM over `H_TPM_COMM` from the TPM bounce page
    ///    (the wrapping key is the configuration's `ibm,uv-tpm` node), the master key and
    ///    digests stored in `struct svm_esmb`, then the RTAS, kernel, initrd and bootargs
    ///    digests.
    func esmCheckBlob(_ run: inout ESMRun) throws(ESMFailure) {
        let rtas = try esmRTASArea(&run)
        let initrd = try esmInitrdRange(&run)
        let bootargs = try esmBootargs(&run)
        let found = try esmBlob(&run, initrd: initrd)
        esmAttachments(&run, blob: found.blob)
        try esmDigestCheck(&run, rtas: rtas, blob: found.blob, initrd: found.hashedInitrd, bootargs: bootargs)
    }
}
