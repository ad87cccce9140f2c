internal import CLibFDT

/// The header of a flattened device tree (`struct fdt_header` in libfdt's `fdt.h`):
/// ten big-endian 32-bit fields at the start of the blob.
public struct DeviceTreeHeader: Hashable, Sendable {
    /// `magic`: `FDT_MAGIC`, 0xd00dfeed.
    public var magic: UInt32
    /// `totalsize`: the size of the whole blob, free space included.
    public var totalSize: Int
    /// `off_dt_struct`: offset of the structure block.
    public var structureBlockOffset: Int
    /// `off_dt_strings`: offset of the strings block.
    public var stringsBlockOffset: Int
    /// `off_mem_rsvmap`: offset of the memory reserve map.
    public var reserveMapOffset: Int
    /// `version`: 17 for trees dtc and libfdt write.
    public var version: Int
    /// `last_comp_version`: the oldest version this tree is compatible with (16).
    public var lastCompatibleVersion: Int
    /// `boot_cpuid_phys`: the physical id of the boot CPU.
    public var bootCPUIDPhys: UInt32
    /// `size_dt_strings`: size of the strings block.
    public var stringsBlockSize: Int
    /// `size_dt_struct`: size of the structure block.
    public var structureBlockSize: Int
}

extension DeviceTree {
    /// Every header field, read through libfdt's `fdt_*()` accessor macros.
    public var header: DeviceTreeHeader {
        blob.withUnsafeBytes { raw in
            let fdt = raw.baseAddress
            return DeviceTreeHeader(
                magic: clibfdt_magic(fdt),
                totalSize: Int(clibfdt_totalsize(fdt)),
                structureBlockOffset: Int(clibfdt_off_dt_struct(fdt)),
                stringsBlockOffset: Int(clibfdt_off_dt_strings(fdt)),
                reserveMapOffset: Int(clibfdt_off_mem_rsvmap(fdt)),
                version: Int(clibfdt_version(fdt)),
                lastCompatibleVersion: Int(clibfdt_last_comp_version(fdt)),
                bootCPUIDPhys: clibfdt_boot_cpuid_phys(fdt),
                stringsBlockSize: Int(clibfdt_size_dt_strings(fdt)),
                structureBlockSize: Int(clibfdt_size_dt_struct(fdt)))
        }
    }
}
