/*
 * guest-facts (project-written): runs the real guest-side functions SVMKit models
 * and prints their results, one fact per line.
 *   guest-facts lppaca       for nr_cpu_ids 1...2048 and 4 KiB / 64 KiB pages:
 *                            arch/powerpc/kernel/paca.c: alloc_shared_lppaca() for every
 *                            CPU; prints "cpus page_size share_calls share_pages total_bytes
 *                            last_offset" (each configuration in a fork, since the function
 *                            keeps its state in function-local statics)
 *   guest-facts dtl ADDR...  arch/powerpc/platforms/pseries/svm.c: dtl_cache_ctor() on each
 *                            address in turn (64 KiB pages);
 *                            prints "pfn shared_now nr_pages" per call
 *   guest-facts kexec        arch/powerpc/kexec/core_64.c: default_machine_kexec()'s
 *                            unshare statement for every (secure, preserve_context, type)
 * Shims: uv_share_page() and uv_unshare_all_pages() record their calls;
 * memblock_alloc_try_nid() is the compat memblock; virtual = physical.
 */
#include "svmkit_compat.h"
#include <sys/wait.h>
#include <unistd.h>

static unsigned long share_calls, share_pages, share_first_pfn;
static int unshared;
static bool secure;
static unsigned int cpu_ids;
#undef nr_cpu_ids
#define nr_cpu_ids cpu_ids
#define memblock_set_bottom_up(x) do { } while (0)
#define panic(...) abort()
#define memblock_alloc_try_nid(size, align, lo, hi, nid) memblock_alloc((size), (align))
#define uv_share_page(pfn, n) (share_calls++, share_pages += (n), share_first_pfn = (pfn))
#define uv_unshare_all_pages() (unshared = 1)
#define is_secure_guest() secure
#define DISPATCH_LOG_BYTES 4096
#define CONFIG_NR_CPUS 2048
#define KEXEC_TYPE_DEFAULT 0
#define KEXEC_TYPE_CRASH 1
struct kimage { int preserve_context; int type; };
#undef __pa
#define __pa(va) ((unsigned long)(uintptr_t)(va))
#undef pfn_to_page
#define pfn_to_page(pfn) ((struct page *)(uintptr_t)((pfn) * 64))

#include "paca.inc"
/* dtl_page_store[] is sized by NR_DTL_PAGE at file scope, so svm.c is built for 64 KiB pages. */
#undef PAGE_SHIFT
#define PAGE_SHIFT 16
#include "dtl.inc"
#undef PAGE_SHIFT
#define PAGE_SHIFT oracle_page_shift

static int kexec_unshares(bool is_secure, int preserve_context, int type)
{
	struct kimage img = { preserve_context, type }, *image = &img;
	secure = is_secure;
	unshared = 0;
#include "kexec.inc"
	return unshared;
}

int main(int argc, char **argv)
{
	oracle_quiet = true;
	if (argc >= 2 && !strcmp(argv[1], "lppaca")) {
		unsigned shifts[] = { 12, 16 };
		for (int s = 0; s < 2; s++)
			for (unsigned n = 1; n <= 2048; n++) {
				fflush(stdout);
				pid_t pid = fork();
				if (pid == 0) {
					oracle_page_shift = shifts[s];
					cpu_ids = n;
					char *first = NULL, *last = NULL;
					for (unsigned cpu = 0; cpu < n; cpu++) {
						char *p = alloc_shared_lppaca(LPPACA_SIZE, ~0UL, (int)cpu);
						if (!first) first = p;
						last = p;
					}
					printf("%u %lu %lu %lu %lu %ld\n", n, PAGE_SIZE, share_calls, share_pages,
					       (unsigned long)PAGE_ALIGN(n * LPPACA_SIZE), (long)(last - first));
					fflush(stdout);
					_exit(0);
				}
				int st;
				waitpid(pid, &st, 0);
				if (!WIFEXITED(st) || WEXITSTATUS(st)) printf("%u %lu BUG\n", n, 1UL << shifts[s]);
			}
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "dtl")) {
		oracle_page_shift = 16;
		for (int i = 2; i < argc; i++) {
			unsigned long addr = strtoul(argv[i], NULL, 0), before = share_calls;
			dtl_cache_ctor((void *)(uintptr_t)addr);
			printf("%lu %d %ld\n", addr >> PAGE_SHIFT, share_calls != before, dtl_nr_pages);
		}
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "kexec")) {
		for (int s = 0; s < 2; s++)
			for (int pc = 0; pc < 2; pc++)
				for (int t = 0; t < 2; t++)
					printf("secure=%d preserve_context=%d crash=%d unshare=%d\n", s, pc, t,
					       kexec_unshares(s, pc, t ? KEXEC_TYPE_CRASH : KEXEC_TYPE_DEFAULT));
		return 0;
	}
	fprintf(stderr, "usage: guest-facts lppaca | dtl ADDR... | kexec\n");
	return 64;
}
