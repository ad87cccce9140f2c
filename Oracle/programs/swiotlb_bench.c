/*
 * swiotlb-bench (project-written): the workload of `svmkit bench swiotlb` run on
 * Linux's own allocator (kernel/dma/swiotlb.c compiled whole, swiotlb_tbl_map_single /
 * swiotlb_tbl_unmap_single with their bounce copies), printing rows in the same JSON
 * row format with "allocator": "linux-<make kernelversion>".
 *
 * Workload (as SWIOTLBQueueDepthWorkload): per thread a ring of QUEUE_DEPTH entries;
 * each step completes the oldest entry (the simulated device reads every TO_DEVICE
 * bounce byte and writes every FROM_DEVICE one, then unmap), then maps the next
 * original. The memcpy baseline moves the same bytes between the same buffers with
 * libc memcpy (the original to a staging slot, and back for FROM/BIDI); the staging
 * slots are the member's share of the pool memory when the ring fits it, as in
 * `svmkit bench swiotlb`. Rates count
 * each thread's CPU time; rounds alternate 10 ms baseline and pool phases; medians.
 *
 *   swiotlb-bench --sizes 4K,64K --queue-depth 1,32 --threads 1 --direction all
 *                 --seconds 0.5 --pool-size 64M --areas N [--mix 4K:70,64K:25]
 */
#include "oracle_swiotlb.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#define MAXLIST 16
#define STRIDE_PER_THREAD (64u << 20)

static uint64_t now_ns(clockid_t c) { struct timespec t; clock_gettime(c, &t); return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec; }

static long parse_size(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end == 'K' || *end == 'k') v <<= 10;
	else if (*end == 'M' || *end == 'm') v <<= 20;
	else if (*end == 'G' || *end == 'g') v <<= 30;
	return v;
}

static int parse_list(const char *s, long *out, bool sizes)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *t = strtok(buf, ","); t && n < MAXLIST; t = strtok(NULL, ","))
		out[n++] = sizes ? parse_size(t) : strtol(t, NULL, 10);
	return n;
}

/* One thread's ring. */
struct ring {
	int member, depth, dir, nsizes;
	long *sizes;
	char *host;          /* host memory of originals, then stagings */
	char *staging;       /* the baseline's staging slots (see main) */
	uint64_t originals;  /* physical address of the originals */
	long stride;
	uint64_t *entries;
	long *entry_sizes;
	unsigned long step, ops, bytes, failures, high_water;
	uint64_t fold;
	bool pool, track_used;
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER; /* unused: areas lock as in Linux */

static __attribute__((noinline)) uint64_t device_read(const unsigned char *p, long n)
{
	uint64_t a = 0, b = 0, x, y;
	long i = 0;
	for (; i + 16 <= n; i += 16) { memcpy(&x, p + i, 8); memcpy(&y, p + i + 8, 8); a ^= x; b ^= y; }
	for (; i < n; i++) a ^= p[i];
	return a ^ b;
}

static void complete(struct ring *r, int k, unsigned char value)
{
	long size = r->entry_sizes[k];
	unsigned char *slot = r->pool ? oswl_phys_to_virt(r->entries[k]) : (unsigned char *)(uintptr_t)r->entries[k];
	if (r->dir != 2) r->fold ^= device_read(slot, size);
	if (r->dir != 1) memset(slot, value ^ 0xA5, (size_t)size);
	if (r->pool) {
		oswl_unmap(r->entries[k], (size_t)size, r->dir);
	} else if (r->dir != 1) {
		memcpy(r->host + (long)k * r->stride, slot, (size_t)size);
	}
	r->entry_sizes[k] = 0;
}

static void step(struct ring *r)
{
	int k = (int)(r->step % (unsigned long)r->depth);
	unsigned char value = (unsigned char)r->step;
	if (r->entry_sizes[k]) complete(r, k, value);
	long size = r->sizes[r->step % (unsigned long)r->nsizes];
	char *orig = r->host + (long)k * r->stride;
	orig[0] = (char)value;
	if (r->pool) {
		uint64_t a = oswl_map(r->originals + (uint64_t)k * (uint64_t)r->stride, (size_t)size, 0, r->dir, r->member);
		if (a == OSWL_MAPPING_ERROR) {
			r->failures++;
		} else {
			r->entries[k] = a;
			r->entry_sizes[k] = size;
			r->bytes += (unsigned long)size;
			if (r->track_used) { unsigned long u = oswl_used(); if (u > r->high_water) r->high_water = u; }
		}
	} else {
		char *staging = r->staging + (long)k * r->stride;
		memcpy(staging, orig, (size_t)size);
		r->entries[k] = (uint64_t)(uintptr_t)staging;
		r->entry_sizes[k] = size;
		r->bytes += (unsigned long)size;
	}
	r->ops++;
	r->step++;
}

static void drain(struct ring *r)
{
	for (int k = 0; k < r->depth; k++)
		if (r->entry_sizes[k]) complete(r, k, (unsigned char)r->step++);
}

/* A phase: every thread runs its ring for `ns`; rates over each thread's CPU time. */
struct phase_job { struct ring *r; uint64_t ns; double cpu_byte_rate, cpu_op_rate; uint64_t wall_start, wall_end; unsigned long bytes; };

static void *phase_thread(void *arg)
{
	struct phase_job *j = arg;
	struct ring *r = j->r;
	unsigned long b0 = r->bytes, o0 = r->ops;
	uint64_t c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	j->wall_start = now_ns(CLOCK_MONOTONIC);
	uint64_t deadline = j->wall_start + j->ns;
	do {
		for (int i = 0; i < 64; i++) step(r);
	} while ((j->wall_end = now_ns(CLOCK_MONOTONIC)) < deadline);
	drain(r);
	uint64_t cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	j->bytes = r->bytes - b0;
	j->cpu_byte_rate = (double)(r->bytes - b0) / (double)(cpu ? cpu : 1) * 1e9;
	j->cpu_op_rate = (double)(r->ops - o0) / (double)(cpu ? cpu : 1) * 1e9;
	return NULL;
}

static void run_phase(struct ring *rings, int threads, uint64_t ns, double *byte_rate, double *op_rate, double *wall_rate)
{
	pthread_t t[64];
	struct phase_job j[64];
	for (int i = 0; i < threads; i++) {
		j[i] = (struct phase_job){ .r = &rings[i], .ns = ns };
		pthread_create(&t[i], NULL, phase_thread, &j[i]);
	}
	*byte_rate = *op_rate = 0;
	uint64_t start = UINT64_MAX, end = 0;
	unsigned long bytes = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		*byte_rate += j[i].cpu_byte_rate;
		*op_rate += j[i].cpu_op_rate;
		if (j[i].wall_start < start) start = j[i].wall_start;
		if (j[i].wall_end > end) end = j[i].wall_end;
		bytes += j[i].bytes;
	}
	*wall_rate = (double)bytes / (double)(end > start ? end - start : 1) * 1e9;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static double median(double *v, int n) { qsort(v, (size_t)n, sizeof(*v), cmp_d); return n ? v[n / 2] : 0; }
static int cmp_u(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }

static const char *dir_name[] = { "bidirectional", "to-device", "from-device" };

int main(int argc, char **argv)
{
	long sizes[MAXLIST] = { 4096 }, depths[MAXLIST] = { 1 }, threads_list[MAXLIST] = { 1 };
	int nsizes = 1, ndepths = 1, nthreads = 1, ndirs = 1, dirs[3] = { 1 };
	double seconds = 0.5;
	long pool_size = 64 << 20, areas = 0;
	const char *mix = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "--sizes")) nsizes = parse_list(v, sizes, true);
		else if (!strcmp(o, "--queue-depth")) ndepths = parse_list(v, depths, false);
		else if (!strcmp(o, "--threads")) nthreads = parse_list(v, threads_list, false);
		else if (!strcmp(o, "--seconds")) seconds = atof(v);
		else if (!strcmp(o, "--pool-size")) pool_size = parse_size(v);
		else if (!strcmp(o, "--areas")) areas = strtol(v, NULL, 10);
		else if (!strcmp(o, "--mix")) mix = v;
		else if (!strcmp(o, "--direction")) {
			if (!strcmp(v, "all")) { ndirs = 3; dirs[0] = 1; dirs[1] = 2; dirs[2] = 0; }
			else { ndirs = 1; dirs[0] = !strcmp(v, "to-device") ? 1 : !strcmp(v, "from-device") ? 2 : 0; }
		} else { fprintf(stderr, "swiotlb-bench: unknown option %s\n", o); return 64; }
	}
	int max_threads = 1;
	for (int i = 0; i < nthreads; i++) if (threads_list[i] > max_threads) max_threads = (int)threads_list[i];
	if (areas <= 0) areas = max_threads; /* as svmkit bench: possible CPUs */
	unsigned long nareas = 1;
	while (nareas < (unsigned long)areas) nareas <<= 1;
	unsigned long nslabs = (unsigned long)pool_size >> 11;
	while (nareas > 1 && nslabs % (128 * nareas)) nareas >>= 1;
	oracle_quiet = true;

	/* Sizes per point: one size, or 4096 draws from the mix (SplitMix64 as svmkit bench). */
	struct { long size; long *seq; int n; char mixtext[128]; } points[MAXLIST];
	int npoints = 0;
	if (mix) {
		long msizes[MAXLIST], weights[MAXLIST];
		int m = 0;
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", mix);
		for (char *t = strtok(buf, ","); t && m < MAXLIST; t = strtok(NULL, ",")) {
			char *c = strchr(t, ':');
			if (!c) { fprintf(stderr, "swiotlb-bench: --mix %s\n", mix); return 2; }
			*c = 0;
			msizes[m] = parse_size(t);
			weights[m++] = strtol(c + 1, NULL, 10);
		}
		long total = 0, bytes = 0;
		for (int i = 0; i < m; i++) { total += weights[i]; bytes += msizes[i] * weights[i]; }
		points[0].seq = malloc(4096 * sizeof(long));
		uint64_t st = 0x5157494F544C4221ull;
		for (int i = 0; i < 4096; i++) {
			st += 0x9E3779B97F4A7C15ull;
			uint64_t z = st;
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
			z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
			z ^= z >> 31;
			long pick = (long)(z % (uint64_t)total);
			int e = 0;
			while (e < m - 1 && pick >= weights[e]) { pick -= weights[e]; e++; }
			points[0].seq[i] = msizes[e];
		}
		points[0].n = 4096;
		points[0].size = (bytes + total / 2) / total;
		char *p = points[0].mixtext;
		p[0] = 0;
		for (int i = 0; i < m; i++) {
			long s = msizes[i];
			char sz[32];
			if (s % (1 << 20) == 0) snprintf(sz, sizeof(sz), "%ldM", s >> 20);
			else if (s % 1024 == 0) snprintf(sz, sizeof(sz), "%ldK", s >> 10);
			else snprintf(sz, sizeof(sz), "%ld", s);
			snprintf(p + strlen(p), 128 - strlen(p), "%s%s:%ld", i ? "," : "", sz, weights[i]);
		}
		npoints = 1;
	} else {
		for (int i = 0; i < nsizes; i++) {
			points[i].size = sizes[i];
			points[i].seq = &sizes[i];
			points[i].n = 1;
			points[i].mixtext[0] = 0;
		}
		npoints = nsizes;
	}

	printf("{\"allocator\": \"linux-%s\", \"results\": [\n", oswl_kernel_version);
	bool first = true;
	long largest = 0;
	for (int p = 0; p < npoints; p++) for (int i = 0; i < points[p].n; i++) if (points[p].seq[i] > largest) largest = points[p].seq[i];
	for (int d = 0; d < ndirs; d++)
	for (int q = 0; q < ndepths; q++)
	for (int p = 0; p < npoints; p++)
	for (int t = 0; t < nthreads; t++) {
		int threads = (int)threads_list[t], depth = (int)depths[q];
		long stride = largest;
		if (oswl_pool_create(0, nslabs, (unsigned)nareas, 16)) { fprintf(stderr, "swiotlb-bench: no pool\n"); return 1; }
		size_t per = (size_t)2 * (size_t)depth * (size_t)stride;
		char *host = mmap(NULL, per * (size_t)threads, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(host, 0x5A, per * (size_t)threads);
		uint64_t phys = (uint64_t)pool_size + (1u << 20);
		oswl_phys_window(phys, host, per * (size_t)threads);
		struct ring rings[64], base[64];
		/* The baseline stages where the member's bounce slots come from when its ring fits
		 * its share of the pool (as svmkit bench's ringRegion): the start of that share,
		 * so both sides copy between the same places; otherwise after its originals. */
		size_t share = (size_t)pool_size / (size_t)max_threads, span = (size_t)depth * (size_t)stride;
		for (int m = 0; m < threads; m++) {
			struct ring r = { .member = m, .depth = depth, .dir = dirs[d], .nsizes = points[p].n, .sizes = points[p].seq,
				.host = host + per * (size_t)m, .originals = phys + per * (size_t)m, .stride = stride };
			r.staging = span <= share ? (char *)oswl_phys_to_virt((uint64_t)share * (uint64_t)m)
				: r.host + (long)depth * stride;
			r.entries = calloc((size_t)depth, sizeof(uint64_t));
			r.entry_sizes = calloc((size_t)depth, sizeof(long));
			base[m] = r;
			base[m].entries = calloc((size_t)depth, sizeof(uint64_t));
			base[m].entry_sizes = calloc((size_t)depth, sizeof(long));
			rings[m] = r;
			rings[m].pool = true;
		}
		double br, orate, wr, warm = seconds * 0.05 > 0.005 ? seconds * 0.05 : 0.005;
		run_phase(base, threads, (uint64_t)(warm * 1e9), &br, &orate, &wr);
		run_phase(rings, threads, (uint64_t)(warm * 1e9), &br, &orate, &wr);
		int rounds = (int)(seconds * 0.8 * 1e9 / (2 * 10e6));
		if (rounds < 3) rounds = 3;
		double *copy = calloc((size_t)rounds, sizeof(double)), *pool = calloc((size_t)rounds, sizeof(double)),
		       *ops = calloc((size_t)rounds, sizeof(double)), *wall = calloc((size_t)rounds, sizeof(double)),
		       *ratio = calloc((size_t)rounds, sizeof(double));
		for (int r = 0; r < rounds; r++) {
			double cb, co, cw, pb, po, pw;
			if (r % 2 == 0) { run_phase(base, threads, 10000000, &cb, &co, &cw); run_phase(rings, threads, 10000000, &pb, &po, &pw); }
			else { run_phase(rings, threads, 10000000, &pb, &po, &pw); run_phase(base, threads, 10000000, &cb, &co, &cw); }
			copy[r] = cb; pool[r] = pb; ops[r] = po; wall[r] = pw; ratio[r] = pb / (cb > 1 ? cb : 1);
		}
		/* Latency: time each step (device action, unmap of the oldest, map of the next) on thread 0. */
		uint64_t lat_ns = (uint64_t)((seconds * 0.2 > 0.01 ? seconds * 0.2 : 0.01) * 1e9), overhead, t0, t1;
		t0 = now_ns(CLOCK_MONOTONIC);
		for (int i = 0; i < 1000; i++) t1 = now_ns(CLOCK_MONOTONIC);
		overhead = (now_ns(CLOCK_MONOTONIC) - t0) / 1001;
		size_t cap = 1 << 20, n = 0;
		uint64_t *samples = malloc(cap * sizeof(uint64_t));
		rings[0].track_used = true;
		uint64_t end = now_ns(CLOCK_MONOTONIC) + lat_ns;
		do {
			t0 = now_ns(CLOCK_MONOTONIC);
			step(&rings[0]);
			t1 = now_ns(CLOCK_MONOTONIC);
			if (n < cap) samples[n++] = t1 - t0 > overhead ? t1 - t0 - overhead : 0;
		} while (t1 < end);
		drain(&rings[0]);
		qsort(samples, n, sizeof(uint64_t), cmp_u);
		unsigned long failures = 0, high = rings[0].high_water;
		for (int m = 0; m < threads; m++) failures += rings[m].failures;
		double bps = median(pool, rounds);
		printf("%s{\"size\": %ld, \"threads\": %d, \"areas\": %lu, \"direction\": \"%s\", \"allocator\": \"linux-%s\", "
		       "\"bytesPerSecond\": %.1f, \"mappingsPerSecond\": %.1f, \"p50Nanoseconds\": %llu, \"p99Nanoseconds\": %llu, "
		       "\"memcpyBytesPerSecond\": %.1f, \"ratio\": %.4f, \"highWaterSlots\": %lu, \"failures\": %lu, "
		       "\"wallBytesPerSecond\": %.1f, \"queueDepth\": %d, \"mix\": ",
		       first ? "" : ",\n", points[p].size, threads, nareas, dir_name[dirs[d]], oswl_kernel_version, bps,
		       median(ops, rounds), (unsigned long long)(n ? samples[n / 2] : 0),
		       (unsigned long long)(n ? samples[n * 99 / 100] : 0), median(copy, rounds), median(ratio, rounds), high,
		       failures, median(wall, rounds), depth);
		if (points[p].mixtext[0]) printf("\"%s\"}", points[p].mixtext); else printf("null}");
		first = false;
		fflush(stdout);
		free(samples); free(copy); free(pool); free(ops); free(wall); free(ratio);
		for (int m = 0; m < threads; m++) { free(rings[m].entries); free(rings[m].entry_sizes); free(base[m].entries); free(base[m].entry_sizes); }
		munmap(host, per * (size_t)threads);
		oswl_pool_destroy();
	}
	printf("\n]}\n");
	(void)map_lock;
	return 0;
}
