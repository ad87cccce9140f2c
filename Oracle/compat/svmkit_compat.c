/*
 * SVMKit's run-time shims for the Linux oracle (project-written): logging, the
 * physical-address windows, memblock over one heap region, set_memory_* recording.
 * See svmkit_compat.h.
 */
#include "svmkit_compat.h"
#include <sys/mman.h>

unsigned int oracle_page_shift = 16;
int oracle_cpu;
unsigned int oracle_possible_cpus = 1;
bool oracle_quiet;

void oracle_log(const char *level, const char *fmt, ...)
{
	if (oracle_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "[%s] ", level);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* ---- physical windows: pa -> host pointer ---- */
struct window { phys_addr_t base; char *host; size_t bytes; };
static struct window windows[8];
static int nwindows;
static char scratch[2 << 20];

void oracle_phys_window(phys_addr_t base, void *host, size_t bytes)
{
	if (nwindows < 8)
		windows[nwindows++] = (struct window){ base, host, bytes };
}

void oracle_phys_reset(void) { nwindows = 0; }

void *oracle_phys_to_virt(phys_addr_t pa)
{
	for (int i = 0; i < nwindows; i++)
		if (pa - windows[i].base < windows[i].bytes)
			return windows[i].host + (pa - windows[i].base);
	/* Invented addresses (replays): any 1 MiB-bounded copy fits in the scratch buffer. */
	return scratch + (pa & ((1 << 20) - 1));
}

phys_addr_t oracle_virt_to_phys(const volatile void *va)
{
	const char *p = (const char *)va;
	for (int i = 0; i < nwindows; i++)
		if ((size_t)(p - windows[i].host) < windows[i].bytes)
			return windows[i].base + (phys_addr_t)(p - windows[i].host);
	return (phys_addr_t)(uintptr_t)p;
}

/* ---- memblock: a bump allocator over one reserved region ---- */
long oracle_memblock_fail_allocations;
static char *mb_base;
static size_t mb_size = (size_t)1 << 34, mb_used;

static void *mb_alloc(phys_addr_t size, phys_addr_t align)
{
	if (oracle_memblock_fail_allocations > 0) {
		oracle_memblock_fail_allocations--;
		return NULL;
	}
	if (!mb_base) {
		mb_base = mmap(NULL, mb_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (mb_base == MAP_FAILED) {
			mb_base = NULL;
			return NULL;
		}
	}
	if (align == 0)
		align = 1;
	size_t at = (mb_used + align - 1) & ~(size_t)(align - 1);
	if (at > mb_size || size > mb_size - at)
		return NULL;
	mb_used = at + size;
	return mb_base + at;
}

void *memblock_alloc(phys_addr_t size, phys_addr_t align) { return mb_alloc(size, align); }
void *memblock_alloc_low(phys_addr_t size, phys_addr_t align) { return mb_alloc(size, align); }
void memblock_free(void *ptr, size_t size) { (void)ptr; (void)size; }
void oracle_memblock_reset(void) { mb_used = 0; }

/* ---- set_memory_decrypted/encrypted: record the calls ---- */
unsigned long oracle_decrypted_calls, oracle_decrypted_pages, oracle_decrypted_last_addr;

int set_memory_decrypted(unsigned long addr, int numpages)
{
	oracle_decrypted_calls++;
	oracle_decrypted_pages += (unsigned long)numpages;
	oracle_decrypted_last_addr = addr;
	return 0;
}

int set_memory_encrypted(unsigned long addr, int numpages)
{
	(void)addr;
	(void)numpages;
	return 0;
}
