/*
 * Glue around the 5.4.y / 5.10.y SWIOTLB slot search (project-written). Used only by
 * Scripts/linux5-oracle-fixtures, a one-off generator that is not run in CI: there is no
 * 5.x source package on the build machines. The generator lifts from a 5.x tree's
 * kernel/dma/swiotlb.c the pool set-up (swiotlb_init_with_tbl), the search and the
 * release (5.4: swiotlb_tbl_map_single, swiotlb_tbl_unmap_single; 5.10: also
 * find_slots and its helpers) into lifted5x.inc, which this file includes after
 * declaring the global pool state those functions use (5.x has one global pool and
 * one lock: io_tlb_start, io_tlb_list, io_tlb_index, io_tlb_used, ...). It implements
 * oracle_swiotlb.h, so the same swiotlb_replay.c runs the streams.
 *
 * ORACLE_KERNEL_5_4: swiotlb_tbl_map_single(dev, tbl_dma_addr, orig, mapping_size,
 * alloc_size, dir, attrs) and no min_align_mask (5.12 added it; 5.10.y has it
 * backported). ORACLE_KERNEL_5_10: swiotlb_tbl_map_single(dev, orig, mapping_size,
 * alloc_size, dir, attrs). Neither has alloc_align_mask: a non-zero one is refused.
 */
#include "svmkit_compat.h"
#include <linux/iommu-helper.h>
#include "oracle_swiotlb.h"

/* include/linux/swiotlb.h and kernel/dma/swiotlb.c (5.x) constants. */
#define IO_TLB_SEGSIZE 128
#define IO_TLB_SHIFT 11
#define IO_TLB_SIZE (1 << IO_TLB_SHIFT)
#define INVALID_PHYS_ADDR (~(phys_addr_t)0)
#define DEFINE_SPINLOCK(x) spinlock_t x
#define printk_ratelimit() 0
#define panic(fmt, ...) do { oracle_log("panic", fmt, ##__VA_ARGS__); abort(); } while (0)
#define memblock_alloc(size, align) calloc(1, (size))
#define swiotlb_print_info() do { } while (0)
#define swiotlb_set_max_segment(v) do { } while (0)

/* The global pool of kernel/dma/swiotlb.c (5.4, 5.10). */
static phys_addr_t io_tlb_start, io_tlb_end;
static unsigned long io_tlb_nslabs;
static unsigned long io_tlb_used;
static unsigned int *io_tlb_list;
static unsigned int io_tlb_index;
static phys_addr_t *io_tlb_orig_addr;
static spinlock_t io_tlb_lock;
static bool no_iotlb_memory = true;

/* The bounce copy does not decide any address: not part of what is compared. */
static void swiotlb_bounce(phys_addr_t orig_addr, phys_addr_t tlb_addr, size_t size, enum dma_data_direction dir)
{
	(void)orig_addr; (void)tlb_addr; (void)size; (void)dir;
}

#include "lifted5x.inc"

const char oswl_kernel_version[] = ORACLE_KERNEL_VERSION;

static struct device_dma_parameters parms;
static struct device dev = { .dma_parms = &parms };
static char *pool_host;

void oswl_phys_window(uint64_t base, void *host, size_t bytes) { oracle_phys_window(base, host, bytes); }

void *oswl_phys_to_virt(uint64_t pa) { return phys_to_virt(pa); }

int oswl_pool_create(uint64_t start, unsigned long nslabs, unsigned int nareas, unsigned int page_shift)
{
	if (nareas != 1) {
		fprintf(stderr, "swiotlb-replay: Linux %s has one global pool: nareas must be 1\n", oswl_kernel_version);
		exit(2);
	}
	oswl_pool_destroy();
	oracle_page_shift = page_shift;
	/* Any host pointer: __pa() maps it to `start` through the window, no byte is copied. */
	pool_host = malloc(1);
	oracle_phys_window(start, pool_host, nslabs << IO_TLB_SHIFT);
	spin_lock_init(&io_tlb_lock);
	if (swiotlb_init_with_tbl(pool_host, nslabs, 0))
		return -1;
	io_tlb_used = 0;
	parms = (struct device_dma_parameters){ 0 };
	return 0;
}

void oswl_pool_destroy(void)
{
	free(io_tlb_list);
	free(io_tlb_orig_addr);
	free(pool_host);
	io_tlb_list = NULL;
	io_tlb_orig_addr = NULL;
	pool_host = NULL;
	io_tlb_nslabs = 0;
	io_tlb_start = io_tlb_end = 0;
	no_iotlb_memory = true;
	oracle_phys_reset();
}

void oswl_device(unsigned int min_align_mask, unsigned long seg_boundary_mask)
{
#ifdef ORACLE_KERNEL_5_4
	min_align_mask = 0; /* no such field before 5.12 */
#endif
	parms.min_align_mask = min_align_mask;
	parms.segment_boundary_mask = seg_boundary_mask;
}

uint64_t oswl_map(uint64_t orig, size_t size, unsigned int alloc_align_mask, int dir, int cpu)
{
	(void)cpu;
	if (alloc_align_mask) {
		fprintf(stderr, "swiotlb-replay: Linux %s has no alloc_align_mask\n", oswl_kernel_version);
		exit(2);
	}
	/* swiotlb_map() (5.x) passes alloc_size = mapping_size = size. */
#ifdef ORACLE_KERNEL_5_4
	phys_addr_t a = swiotlb_tbl_map_single(&dev, phys_to_dma(&dev, io_tlb_start), orig, size, size, dir, DMA_ATTR_NO_WARN);
#else
	phys_addr_t a = swiotlb_tbl_map_single(&dev, orig, size, size, dir, DMA_ATTR_NO_WARN);
#endif
	return a == (phys_addr_t)DMA_MAPPING_ERROR ? OSWL_MAPPING_ERROR : a;
}

void oswl_unmap(uint64_t tlb_addr, size_t size, int dir)
{
	swiotlb_tbl_unmap_single(&dev, tlb_addr, size, size, dir, 0);
}

unsigned long oswl_used(void) { return io_tlb_used; }

void oswl_cmdline_reset(void) {}
void oswl_cmdline_apply(char *value) { (void)value; }
void oswl_cmdline_state(unsigned long *nslabs, unsigned long *nareas, bool *force, bool *disable)
{
	*nslabs = 0; *nareas = 0; *force = false; *disable = false;
}
void oswl_cmdline_init(unsigned int possible_cpus, unsigned long *nslabs, unsigned int *nareas)
{
	(void)possible_cpus; *nslabs = 0; *nareas = 1;
}
