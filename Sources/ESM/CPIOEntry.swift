/// One entry of a newc cpio archive: the 13 header fields and the data.
///
/// Modes follow `stat`: `0o040755` a directory, `0o100644` a regular file.
public struct CPIOEntry: Sendable, Hashable {
    /// The path, without a leading `./` (GNU cpio strips it).
    public var name: String
    /// `c_ino`.
    public var inode: UInt32
    /// `c_mode` (file type and permission bits).
    public var mode: UInt32
    /// `c_uid`.
    public var uid: UInt32
    /// `c_gid`.
    public var gid: UInt32
    /// `c_nlink`.
    public var linkCount: UInt32
    /// `c_mtime` (seconds since the epoch).
    public var modificationTime: UInt32
    /// `c_devmajor`.
    public var deviceMajor: UInt32
    /// `c_devminor`.
    public var deviceMinor: UInt32
    /// `c_rdevmajor`.
    public var rdevMajor: UInt32
    /// `c_rdevminor`.
    public var rdevMinor: UInt32
    /// `c_check` (0 for the `070701` format).
    public var check: UInt32
    /// The file data (empty for directories).
    public var data: [UInt8]

    /// The directory type and `rwxr-xr-x`.
    public static let directoryMode: UInt32 = 0o040755
    /// The regular-file type and `rw-r--r--`.
    public static let regularFileMode: UInt32 = 0o100644
    /// The trailer's name.
    public static let trailerName = "TRAILER!!!"

    /// Makes an entry; unspecified fields are 0.
    public init(
        name: String, inode: UInt32 = 0, mode: UInt32 = CPIOEntry.regularFileMode, uid: UInt32 = 0, gid: UInt32 = 0,
        linkCount: UInt32 = 1, modificationTime: UInt32 = 0, deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0,
        rdevMajor: UInt32 = 0, rdevMinor: UInt32 = 0, check: UInt32 = 0, data: [UInt8] = []
    ) {
        self.name = name
        self.inode = inode
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.linkCount = linkCount
        self.modificationTime = modificationTime
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.rdevMajor = rdevMajor
        self.rdevMinor = rdevMinor
        self.check = check
        self.data = data
    }

    /// The trailer entry as GNU cpio writes it: every field 0 except `nlink` = 1.
    public static var trailer: CPIOEntry { CPIOEntry(name: trailerName, mode: 0, linkCount: 1) }

    /// Whether this is a directory (by mode).
    public var isDirectory: Bool { mode & 0o170000 == 0o040000 }
}
