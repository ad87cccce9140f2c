/*
 * The SWIOTLB oracle's interface (project-written): a handful of entry points into
 * the real kernel/dma/swiotlb.c, compiled whole in swiotlb_glue.c, so that the
 * programs (replay, cmdline, bench) never see kernel types.
 */
#ifndef ORACLE_SWIOTLB_H
#define ORACLE_SWIOTLB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OSWL_MAPPING_ERROR (~(uint64_t)0)

/* The kernel version the glue was built from, e.g. "6.12.118" (make kernelversion). */
extern const char oswl_kernel_version[];

/* Builds the default pool at `start` over fresh host memory (swiotlb_init_io_tlb_pool). */
int oswl_pool_create(uint64_t start, unsigned long nslabs, unsigned int nareas, unsigned int page_shift);
void oswl_pool_destroy(void);
/* Registers host memory `host` as physical [base, base + bytes) for bounce copies. */
void oswl_phys_window(uint64_t base, void *host, size_t bytes);

/* The host address of physical address `pa` (pool and registered windows). */
void *oswl_phys_to_virt(uint64_t pa);

/* One device: its min_align_mask and segment boundary mask. */
void oswl_device(unsigned int min_align_mask, unsigned long seg_boundary_mask);
/* swiotlb_tbl_map_single() on CPU `cpu`; OSWL_MAPPING_ERROR when Linux refuses. dir: 0 bidi, 1 to, 2 from. */
uint64_t oswl_map(uint64_t orig, size_t size, unsigned int alloc_align_mask, int dir, int cpu);
/* swiotlb_tbl_unmap_single(). */
void oswl_unmap(uint64_t tlb_addr, size_t size, int dir);
/* mem_used(): the sum of every area's used count. */
unsigned long oswl_used(void);

/* swiotlb= : reset the parse state, apply one value (setup_io_tlb_npages), read it back. */
void oswl_cmdline_reset(void);
void oswl_cmdline_apply(char *value);
void oswl_cmdline_state(unsigned long *nslabs, unsigned long *nareas, bool *force, bool *disable);
/* The sizing half of swiotlb_init_remap() for `possible_cpus`: the pool's nslabs and nareas. */
void oswl_cmdline_init(unsigned int possible_cpus, unsigned long *nslabs, unsigned int *nareas);

/* Silences pr_* output (benchmarks, pressure runs). */
extern bool oracle_quiet;
#endif
