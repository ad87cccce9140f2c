/*
 * Glue around the real kernel/dma/swiotlb.c (project-written). The kernel file is
 * compiled whole, in this translation unit, so its static functions and state are
 * reachable; Scripts/linux-oracle passes -I to the extracted tree and defines
 * ORACLE_KERNEL_6_1 for the 6.1 layout (one io_tlb_mem, no io_tlb_pool).
 */
#include "svmkit_compat.h"
#include "kernel/dma/swiotlb.c"
#include "oracle_swiotlb.h"
#include <sys/mman.h>

void oracle_phys_reset(void);

const char oswl_kernel_version[] = ORACLE_KERNEL_VERSION;

#ifdef ORACLE_KERNEL_6_1
#define POOL (&io_tlb_default_mem)
#else
#define POOL (&io_tlb_default_mem.defpool)
#endif

static struct device_dma_parameters parms;
static struct device dev = { .dma_io_tlb_mem = &io_tlb_default_mem, .dma_parms = &parms };
static void *pool_host;
static size_t pool_host_bytes;

void oswl_phys_window(uint64_t base, void *host, size_t bytes) { oracle_phys_window(base, host, bytes); }

void *oswl_phys_to_virt(uint64_t pa) { return phys_to_virt(pa); }

int oswl_pool_create(uint64_t start, unsigned long nslabs, unsigned int nareas, unsigned int page_shift)
{
	oswl_pool_destroy();
	oracle_page_shift = page_shift;
	pool_host_bytes = nslabs << IO_TLB_SHIFT;
	pool_host = mmap(NULL, pool_host_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (pool_host == MAP_FAILED)
		return -1;
	oracle_phys_window(start, pool_host, pool_host_bytes);
	POOL->slots = calloc(nslabs, sizeof(*POOL->slots));
	POOL->areas = calloc(nareas, sizeof(*POOL->areas));
	if (!POOL->slots || !POOL->areas)
		return -1;
	/* Replaces swiotlb_init_remap()'s memblock allocation and placement: the pool is put at `start`. */
#ifdef ORACLE_KERNEL_6_1
	swiotlb_init_io_tlb_mem(POOL, start, nslabs, 0, false, nareas);
#else
	swiotlb_init_io_tlb_pool(POOL, start, pool_host, nslabs, false, nareas);
	add_mem_pool(&io_tlb_default_mem, POOL);
#endif
	parms = (struct device_dma_parameters){ 0 };
	return 0;
}

void oswl_pool_destroy(void)
{
	if (pool_host)
		munmap(pool_host, pool_host_bytes);
	pool_host = NULL;
	free(POOL->slots);
	free(POOL->areas);
	POOL->slots = NULL;
	POOL->areas = NULL;
	POOL->nslabs = 0;
	io_tlb_default_mem.nslabs = 0;
	oracle_phys_reset();
}

void oswl_device(unsigned int min_align_mask, unsigned long seg_boundary_mask)
{
	parms.min_align_mask = min_align_mask;
	parms.segment_boundary_mask = seg_boundary_mask;
}

uint64_t oswl_map(uint64_t orig, size_t size, unsigned int alloc_align_mask, int dir, int cpu)
{
	oracle_cpu = cpu;
#ifdef ORACLE_KERNEL_6_1
	/* Streaming DMA (swiotlb_map) passes alloc_size = mapping_size in 6.1. */
	phys_addr_t a = swiotlb_tbl_map_single(&dev, orig, size, size, alloc_align_mask, dir, DMA_ATTR_NO_WARN);
#else
	phys_addr_t a = swiotlb_tbl_map_single(&dev, orig, size, alloc_align_mask, dir, DMA_ATTR_NO_WARN);
#endif
	return a == (phys_addr_t)DMA_MAPPING_ERROR ? OSWL_MAPPING_ERROR : a;
}

void oswl_unmap(uint64_t tlb_addr, size_t size, int dir)
{
	swiotlb_tbl_unmap_single(&dev, tlb_addr, size, dir, 0);
}

unsigned long oswl_used(void) { return mem_used(&io_tlb_default_mem); }

void oswl_cmdline_reset(void)
{
	default_nslabs = IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT;
	default_nareas = 0;
	swiotlb_force_bounce = false;
	swiotlb_force_disable = false;
}

void oswl_cmdline_apply(char *value) { setup_io_tlb_npages(value); }

void oswl_cmdline_state(unsigned long *nslabs, unsigned long *nareas, bool *force, bool *disable)
{
	*nslabs = default_nslabs;
	*nareas = default_nareas;
	*force = swiotlb_force_bounce;
	*disable = swiotlb_force_disable;
}

void oswl_cmdline_init(unsigned int possible_cpus, unsigned long *nslabs, unsigned int *nareas)
{
	/*
	 * Replaces kernel/dma/swiotlb.c: swiotlb_init_remap() (6.12, 6.1) from
	 * "if (!default_nareas)" to the first limit_nareas() call, lifted here because the
	 * rest allocates and maps the pool (memblock succeeds first time in this model).
	 */
	oracle_possible_cpus = possible_cpus;
	if (!default_nareas)
		swiotlb_adjust_nareas(num_possible_cpus());
	*nslabs = default_nslabs;
	*nareas = limit_nareas(default_nareas, default_nslabs);
}
