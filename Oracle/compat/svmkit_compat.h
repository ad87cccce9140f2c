/*
 * SVMKit's kernel "compat" header for the Linux oracle (project-written, not kernel code).
 *
 * Scripts/linux-oracle compiles real kernel files (kernel/dma/swiotlb.c whole, and
 * functions lifted from prom_init.c, paca.c, svm.c, kexec/core_64.c, lib/) as host
 * programs. Every <linux/...> header those files include, except the few real headers
 * the script copies (include/linux/swiotlb.h, include/linux/iommu-helper.h), is
 * generated as a one-line stub that includes this file. It supplies just what the
 * lifted code uses:
 *   - kernel types and helpers (u64, phys_addr_t, ALIGN, min, roundup_pow_of_two ...);
 *   - pr_* and dev_* logging to stderr;
 *   - spinlocks as uncontended pthread spinlocks;
 *   - memblock over one heap region (oracle_memblock_*), with a failure injector;
 *   - set_memory_decrypted()/encrypted() that record their calls;
 *   - a physical address space: phys_to_virt() over registered windows, any other
 *     address lands in a scratch buffer (replays use invented addresses);
 *   - PAGE_SHIFT as a run-time variable, so one binary serves 4 KiB and 64 KiB pages.
 * Configuration: CONFIG_SWIOTLB, !CONFIG_SWIOTLB_DYNAMIC, !CONFIG_DEBUG_FS,
 * !CONFIG_DMA_RESTRICTED_POOL, CONFIG_PPC64, CONFIG_PPC_SVM.
 */
#ifndef SVMKIT_COMPAT_H
#define SVMKIT_COMPAT_H

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_SWIOTLB 1
#define CONFIG_PPC64 1
#define CONFIG_PPC_SVM 1
#define CONFIG_PPC_BOOK3S_64 1
#undef CONFIG_SWIOTLB_DYNAMIC
#undef CONFIG_DEBUG_FS
#undef CONFIG_DMA_RESTRICTED_POOL

/* ---- types ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef int64_t s64;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef u64 resource_size_t;
typedef unsigned int gfp_t;
typedef u64 __be64;
typedef u32 __be32;
typedef struct { long counter; } atomic_long_t;
typedef struct { int counter; } atomic_t;
typedef pthread_spinlock_t spinlock_t;
typedef struct { unsigned long pte; } pte_t;

struct list_head { struct list_head *next, *prev; };
struct rcu_head { void *next; void (*func)(struct rcu_head *); };
struct work_struct { int pending; };
struct page { int unused; };
struct dentry;
struct device_node;
struct reserved_mem;
struct scatterlist;
struct kmem_cache;
struct io_tlb_mem;

/* The struct device fields the lifted code reads. */
struct device_dma_parameters { unsigned int max_segment_size; unsigned int min_align_mask; unsigned long segment_boundary_mask; };
struct device {
	struct io_tlb_mem *dma_io_tlb_mem;
	struct device_dma_parameters *dma_parms;
	u64 *dma_mask;
	bool dma_skip_sync;
	u64 bus_dma_limit;
};

enum dma_data_direction { DMA_BIDIRECTIONAL = 0, DMA_TO_DEVICE = 1, DMA_FROM_DEVICE = 2, DMA_NONE = 3 };

/* ---- attributes and registration macros ---- */
#define __init
#define __initdata
#define __ref
#define __maybe_unused __attribute__((unused))
#define __always_inline inline __attribute__((always_inline))
#define noinline __attribute__((noinline))
#define __must_check
#define __iomem
#define __user
#define __force
#define __rcu
#define __percpu
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define early_param(name, fn)
#define core_param(a, b, c, d)
#define late_initcall(fn)
#define subsys_initcall(fn)
#define fs_initcall(fn)
#define arch_initcall(fn)
#define machine_early_initcall(m, fn)
#define RESERVEDMEM_OF_DECLARE(a, b, c)
#define DEFINE_DEBUGFS_ATTRIBUTE(name, get, set, fmt) static __attribute__((unused)) int name
#define CREATE_TRACE_POINTS
#define trace_swiotlb_bounced(...) do { } while (0)
#define kmsan_unpoison_memory(p, n) do { } while (0)
#define might_sleep() do { } while (0)
#define barrier() __asm__ __volatile__("" ::: "memory")

/* ---- logging: pr_* and dev_* to stderr ---- */
#define KERN_INFO ""
#define KERN_WARNING ""
#define KERN_ERR ""
#define pr_fmt(fmt) fmt
extern bool oracle_quiet;
void oracle_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pr_info(fmt, ...) oracle_log("info", pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) oracle_log("warn", pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...) oracle_log("err", pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) do { } while (0)
#define pr_devel(fmt, ...) do { } while (0)
#define pr_warn_once(fmt, ...) do { static bool __once; if (!__once) { __once = true; pr_warn(fmt, ##__VA_ARGS__); } } while (0)
#define pr_info_once(fmt, ...) do { static bool __once; if (!__once) { __once = true; pr_info(fmt, ##__VA_ARGS__); } } while (0)
#define printk(fmt, ...) oracle_log("printk", fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) oracle_log("warn", fmt, ##__VA_ARGS__)
#define dev_err(dev, fmt, ...) oracle_log("err", fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) oracle_log("info", fmt, ##__VA_ARGS__)
#define dev_warn_once(dev, fmt, ...) pr_warn_once(fmt, ##__VA_ARGS__)
#define dev_warn_ratelimited(dev, fmt, ...) oracle_log("warn", fmt, ##__VA_ARGS__)
#define dev_WARN_ONCE(dev, cond, fmt, ...) ({ bool __c = !!(cond); if (__c) { static bool __once; if (!__once) { __once = true; oracle_log("WARN", fmt, ##__VA_ARGS__); } } __c; })
#define WARN_ON(cond) ({ bool __c = !!(cond); if (__c) oracle_log("WARN", "%s:%d WARN_ON(%s)\n", __FILE__, __LINE__, #cond); __c; })
#define WARN_ON_ONCE(cond) WARN_ON(cond)
#define WARN(cond, fmt, ...) ({ bool __c = !!(cond); if (__c) oracle_log("WARN", fmt, ##__VA_ARGS__); __c; })
#define WARN_ONCE(cond, fmt, ...) WARN(cond, fmt, ##__VA_ARGS__)
#define BUG_ON(cond) do { if (cond) { oracle_log("BUG", "%s:%d BUG_ON(%s)\n", __FILE__, __LINE__, #cond); abort(); } } while (0)
#define BUG() BUG_ON(1)

/* ---- arithmetic helpers (semantics of include/linux/{math,log2,kernel,minmax}.h) ---- */
#define min(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a < __b ? __a : __b; })
#define max(a, b) ({ __typeof__(a) __a = (a); __typeof__(b) __b = (b); __a > __b ? __a : __b; })
#define min_t(t, a, b) ({ t __a = (a); t __b = (b); __a < __b ? __a : __b; })
#define max_t(t, a, b) ({ t __a = (a); t __b = (b); __a > __b ? __a : __b; })
#define __ALIGN_KERNEL_MASK(x, mask) (((x) + (mask)) & ~(mask))
#define ALIGN(x, a) __ALIGN_KERNEL_MASK(x, (__typeof__(x))(a) - 1)
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define round_up(x, y) ((((x) - 1) | ((__typeof__(x))((y) - 1))) + 1)
#define roundup(x, y) ((((x) + ((y) - 1)) / (y)) * (y))
static inline u64 div_u64(u64 a, u32 b) { return a / b; }
#define round_down(x, y) ((x) & ~((__typeof__(x))((y) - 1)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) (1UL << (n))
#define BITS_PER_LONG 64
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define array_size(a, b) ((size_t)(a) * (size_t)(b))
#define struct_size(p, member, n) (sizeof(*(p)) + sizeof(*(p)->member) * (n))
static inline bool is_power_of_2(unsigned long n) { return n != 0 && (n & (n - 1)) == 0; }
static inline unsigned long roundup_pow_of_two(unsigned long n) { return n <= 1 ? 1 : 1UL << (64 - __builtin_clzl(n - 1)); }
static inline unsigned long rounddown_pow_of_two(unsigned long n) { return 1UL << (63 - __builtin_clzl(n)); }
static inline int ilog2(unsigned long n) { return 63 - __builtin_clzl(n); }
static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline int __ffs(unsigned long x) { return __builtin_ctzl(x); }
#define ULONG_MAX_ ULONG_MAX
#define U64_MAX UINT64_MAX
#define SZ_1K 0x400
#define SZ_4K 0x1000
#define SZ_64K 0x10000
#define SZ_256K 0x40000
#define SZ_1M 0x100000
#define SZ_1G 0x40000000

/* ---- pages: PAGE_SHIFT is a run-time variable (12 or 16 on ppc64) ---- */
extern unsigned int oracle_page_shift;
#define PAGE_SHIFT oracle_page_shift
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x) ALIGN((unsigned long)(x), PAGE_SIZE)
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_PHYS(x) ((phys_addr_t)(x) << PAGE_SHIFT)
#define SMP_CACHE_BYTES 128
#define L1_CACHE_BYTES 128
#define PageHighMem(p) 0
static inline struct page *pfn_to_page(unsigned long pfn) { (void)pfn; static struct page p; return &p; }
#define memcpy_from_page(to, page, off, len) memcpy((to), (void *)0, 0)
#define memcpy_to_page(page, off, from, len) do { } while (0)
#define local_irq_save(f) ((void)(f))
#define local_irq_restore(f) ((void)(f))

/* ---- physical address space over host memory ---- */
void oracle_phys_window(phys_addr_t base, void *host, size_t bytes);
void *oracle_phys_to_virt(phys_addr_t pa);
phys_addr_t oracle_virt_to_phys(const volatile void *va);
#define phys_to_virt(pa) oracle_phys_to_virt(pa)
#define virt_to_phys(va) oracle_virt_to_phys(va)
#define __pa(va) oracle_virt_to_phys((void *)(va))
#define __va(pa) oracle_phys_to_virt(pa)
#define phys_to_dma_unencrypted(dev, pa) ((dma_addr_t)(pa))
#define phys_to_dma(dev, pa) ((dma_addr_t)(pa))
#define dma_to_phys(dev, a) ((phys_addr_t)(a))

/* ---- CPUs ---- */
extern int oracle_cpu;
extern unsigned int oracle_possible_cpus;
#define raw_smp_processor_id() oracle_cpu
#define smp_processor_id() oracle_cpu
#define num_possible_cpus() oracle_possible_cpus
#define nr_cpu_ids oracle_possible_cpus

/* ---- spinlocks: uncontended pthread spinlocks ---- */
#define spin_lock_init(l) pthread_spin_init((l), PTHREAD_PROCESS_PRIVATE)
#define spin_lock(l) pthread_spin_lock(l)
#define spin_unlock(l) pthread_spin_unlock(l)
#define spin_lock_irqsave(l, f) do { (void)(f); pthread_spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, f) do { (void)(f); pthread_spin_unlock(l); } while (0)
#define __SPIN_LOCK_UNLOCKED(x) 0

/* ---- atomics (single-threaded oracle) ---- */
#define atomic_long_read(a) ((a)->counter)
#define atomic_long_set(a, v) ((a)->counter = (v))
#define atomic_long_add(v, a) ((a)->counter += (v))
#define atomic_long_sub(v, a) ((a)->counter -= (v))
#define atomic_long_add_return(v, a) ((a)->counter += (v))

/* ---- DMA device parameters ---- */
static inline unsigned int dma_get_min_align_mask(struct device *dev)
{ return dev->dma_parms ? dev->dma_parms->min_align_mask : 0; }
static inline unsigned long dma_get_seg_boundary(struct device *dev)
{ return dev->dma_parms && dev->dma_parms->segment_boundary_mask ? dev->dma_parms->segment_boundary_mask : ULONG_MAX; }
#define dma_reset_need_sync(dev) do { } while (0)
#define DMA_MAPPING_ERROR (~(dma_addr_t)0)
#define DMA_ATTR_SKIP_CPU_SYNC (1UL << 5)
#define DMA_ATTR_NO_WARN (1UL << 8)
#define DMA_ATTR_FORCE_CONTIGUOUS (1UL << 4)
enum cc_attr { CC_ATTR_MEM_ENCRYPT = 0 };
#define cc_platform_has(attr) true
#define mem_encrypt_active() true

/* ---- memblock over a heap region, set_memory_* recording ---- */
void *memblock_alloc(phys_addr_t size, phys_addr_t align);
void *memblock_alloc_low(phys_addr_t size, phys_addr_t align);
void memblock_free(void *ptr, size_t size);
extern long oracle_memblock_fail_allocations; /* fail the next N memblock allocations */
int set_memory_decrypted(unsigned long addr, int numpages);
int set_memory_encrypted(unsigned long addr, int numpages);
extern unsigned long oracle_decrypted_calls, oracle_decrypted_pages;
extern unsigned long oracle_decrypted_last_addr;

/* ---- allocator and misc stubs the lifted code references ---- */
#define GFP_KERNEL 0u
#define GFP_NOWAIT 0u
#define __GFP_NOWARN 0u
#define __GFP_ZERO 0u
#define kmalloc(n, gfp) malloc(n)
#define kzalloc(n, gfp) calloc(1, (n))
#define kcalloc(n, s, gfp) calloc((n), (s))
#define kfree(p) free(p)

/* ---- lib/: lifted into lib_lifted.c from the real lib/vsprintf.c, lib/kstrtox.c, lib/cmdline.c ---- */
#define KSTRTOX_OVERFLOW (1U << 31)
#define _tolower(c) ((c) | 0x20)
unsigned long simple_strtoul(const char *cp, char **endp, unsigned int base);
unsigned long long simple_strtoull(const char *cp, char **endp, unsigned int base);
char *next_arg(char *args, char **param, char **val);
const char *_parse_integer_fixup_radix(const char *s, unsigned int *base);
unsigned int _parse_integer_limit(const char *s, unsigned int base, unsigned long long *p, size_t max_chars);
static inline char *skip_spaces(const char *s) { while (isspace((unsigned char)*s)) s++; return (char *)s; }

/* ---- IS_ENABLED() for the options the lifted code tests ---- */
#define IS_ENABLED(option) ORACLE_IS_ENABLED_##option
#define ORACLE_IS_ENABLED_CONFIG_CMDLINE_FORCE 0
#define ORACLE_IS_ENABLED_CONFIG_CMDLINE_EXTEND 0
#define ORACLE_IS_ENABLED_CONFIG_PPC_RADIX_MMU_DEFAULT 1
#define CONFIG_CMDLINE ""
#define CONFIG_PPC_PSERIES 1
#define COMMAND_LINE_SIZE 2048
#define SZ_16M 0x1000000
#define PHYS_PFN(x) ((unsigned long)((x) >> PAGE_SHIFT))
#define NUMA_NO_NODE (-1)
#define MEMBLOCK_LOW_LIMIT 0

#endif /* SVMKIT_COMPAT_H */
