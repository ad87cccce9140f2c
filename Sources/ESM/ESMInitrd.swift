/// Putting an ESM blob into an initrd the way svm-tool's `svm add` does
/// (reference/ultravisor-facts.md §3.6): a newc cpio of `opt/ibm/pef/<blob>` (made by
/// `find . -print0 | cpio --null --create --format=newc` in a directory holding only
/// that file), padded to 512 bytes, followed by the original initrd unchanged.
///
/// The kernel unpacks both archives into the same initramfs; the Ultravisor finds the
/// blob in the first one and hashes only what follows it (``ESMBlobLocator``).
public enum ESMInitrd {
    /// The directory the Ultravisor requires the blob under.
    public static let pefDirectory = "opt/ibm/pef"

    /// The cpio archive svm-tool puts in front of the initrd: entries `.`, `opt`,
    /// `opt/ibm`, `opt/ibm/pef`, `opt/ibm/pef/<name>`, `TRAILER!!!`, in that order
    /// (GNU cpio strips `./`), zero-padded to a multiple of 512 bytes.
    ///
    /// Fields are those GNU cpio records from `stat`, made deterministic: inodes 1–5,
    /// directories `0o040755` with link counts 3, 3, 3, 2 (2 + subdirectories), the blob
    /// `0o100644` with 1 link, uid/gid 0, device 0, every mtime `modificationTime`.
    /// - Parameters:
    ///   - blob: the ESM blob's bytes, stored raw.
    ///   - name: the blob's file name (svm-tool uses the blob file's basename).
    ///   - modificationTime: the mtime of every entry.
    /// - Throws: `.invalidName` for an empty name or one with `/` or NUL.
    public static func blobArchive(_ blob: [UInt8], name: String = "esmb.dtb", modificationTime: UInt32 = 0) throws(ESMError) -> [UInt8] {
        guard !name.isEmpty, !name.contains("/"), !name.utf8.contains(0), name != ".", name != ".." else {
            throw ESMError(.invalidName, "blob file name \(name.debugDescription) is not a plain file name")
        }
        let dirs: [(String, UInt32)] = [(".", 3), ("opt", 3), ("opt/ibm", 3), (pefDirectory, 2)]
        var entries = dirs.enumerated().map { i, d in
            CPIOEntry(
                name: d.0, inode: UInt32(i + 1), mode: CPIOEntry.directoryMode, linkCount: d.1,
                modificationTime: modificationTime)
        }
        entries.append(
            CPIOEntry(
                name: pefDirectory + "/" + name, inode: 5, mode: CPIOEntry.regularFileMode, linkCount: 1,
                modificationTime: modificationTime, data: blob))
        do {
            return try CPIOArchive.write(entries)
        } catch {
            throw ESMError(.tooLarge, error.description)
        }
    }

    /// `svm add`: the blob archive followed by the original initrd.
    public static func addBlob(
        _ blob: [UInt8], to initrd: [UInt8], name: String = "esmb.dtb", modificationTime: UInt32 = 0
    ) throws(ESMError) -> [UInt8] {
        try blobArchive(blob, name: name, modificationTime: modificationTime) + initrd
    }
}
