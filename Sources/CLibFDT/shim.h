#ifndef CLIBFDT_SHIM_H
#define CLIBFDT_SHIM_H
// libfdt.h must come first: fdt.h uses fdt32_t but does not include libfdt_env.h
// itself (swift-notes §1.2).
#include <libfdt.h>

// Function-like macros are never imported by Swift (swift-notes §1.5, pitfall 1).
// Each of these re-exports one libfdt macro under a clibfdt_ name.

/// fdt_magic(): the header's magic word (FDT_MAGIC for a valid tree).
static inline uint32_t clibfdt_magic(const void *fdt) { return fdt_magic(fdt); }
/// fdt_totalsize(): the whole blob's size in bytes.
static inline uint32_t clibfdt_totalsize(const void *fdt) { return fdt_totalsize(fdt); }
/// fdt_off_dt_struct(): offset of the structure block.
static inline uint32_t clibfdt_off_dt_struct(const void *fdt) { return fdt_off_dt_struct(fdt); }
/// fdt_off_dt_strings(): offset of the strings block.
static inline uint32_t clibfdt_off_dt_strings(const void *fdt) { return fdt_off_dt_strings(fdt); }
/// fdt_off_mem_rsvmap(): offset of the memory reserve map.
static inline uint32_t clibfdt_off_mem_rsvmap(const void *fdt) { return fdt_off_mem_rsvmap(fdt); }
/// fdt_version(): the format version (17 for trees dtc writes).
static inline uint32_t clibfdt_version(const void *fdt) { return fdt_version(fdt); }
/// fdt_last_comp_version(): the oldest version this tree is compatible with.
static inline uint32_t clibfdt_last_comp_version(const void *fdt) { return fdt_last_comp_version(fdt); }
/// fdt_boot_cpuid_phys(): the physical id of the boot CPU.
static inline uint32_t clibfdt_boot_cpuid_phys(const void *fdt) { return fdt_boot_cpuid_phys(fdt); }
/// fdt_size_dt_strings(): size of the strings block.
static inline uint32_t clibfdt_size_dt_strings(const void *fdt) { return fdt_size_dt_strings(fdt); }
/// fdt_size_dt_struct(): size of the structure block.
static inline uint32_t clibfdt_size_dt_struct(const void *fdt) { return fdt_size_dt_struct(fdt); }
/// fdt_set_boot_cpuid_phys(): set the boot CPU's physical id.
static inline void clibfdt_set_boot_cpuid_phys(void *fdt, uint32_t v) { fdt_set_boot_cpuid_phys(fdt, v); }
/// sizeof(struct fdt_header), which Swift cannot take through the FDT_V17_SIZE macro.
static inline int clibfdt_header_size(void) { return (int)sizeof(struct fdt_header); }
/// fdt_setprop_string(): set a NUL-terminated string property.
static inline int clibfdt_setprop_string(void *fdt, int node, const char *name, const char *value) {
    return fdt_setprop_string(fdt, node, name, value);
}
/// fdt_setprop_empty(): set a property with no value.
static inline int clibfdt_setprop_empty(void *fdt, int node, const char *name) {
    return fdt_setprop_empty(fdt, node, name);
}
/// fdt_property_string(): sequential-write string property.
static inline int clibfdt_property_string(void *fdt, const char *name, const char *value) {
    return fdt_property_string(fdt, name, value);
}
#endif
