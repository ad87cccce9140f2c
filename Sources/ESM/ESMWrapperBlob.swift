import DeviceTree

/// The boot-wrapper path of blob discovery: the blob lies between
/// `/chosen/linux,esm-blob-start` and `-end` instead of in front of the initrd.
///
/// Models the wrapper branch of `svm_esm_blob_chk()` in `open-power/ultravisor
/// svm/svm-esm.c` (reference/ultravisor-facts.md §2.6 step 4a), as the simulated
/// Ultravisor and `svmkit esm verify --blob` both apply it, so they reach the same
/// verdict: the region must start with an FDT header (magic 0xd00dfeed) whose
/// `totalsize` fits in the region, and the blob is the first `totalsize` bytes.
public enum ESMWrapperBlob {
    /// The blob in `region` (the bytes from `linux,esm-blob-start` to `-end`), or nil
    /// when the region does not start with an FDT of at most its length.
    public static func blob(in region: [UInt8]) -> [UInt8]? {
        guard region.count >= DeviceTree.headerSize, BigEndianCells.u32(region, at: 0) == DeviceTree.magic else { return nil }
        let total = Int(BigEndianCells.u32(region, at: 4))
        guard total >= DeviceTree.headerSize, total <= region.count else { return nil }
        return Array(region.prefix(total))
    }
}
