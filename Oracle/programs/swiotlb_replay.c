/*
 * swiotlb-replay (project-written): runs a replay trace (the format of
 * SWIOTLBReplayTrace in Sources/SWIOTLB/Replay) through Linux's own allocator and
 * prints exactly what `svmkit swiotlb replay --json` prints. Malformed input: a
 * message naming the scenario and op index on stderr, exit 2.
 */
#include "json_reader.h"
#include "oracle_swiotlb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The watchdog. 6.1's swiotlb_do_find_slots() loops forever on some requests (its
 * do/while only stops when the index returns to `wrap`, which +1 and +stride steps
 * can skip), with the area lock held. A map that can take a +1 step (orig_addr != 0
 * and min_align_mask has bits above alloc_align_mask | 0x7ff; without them every
 * step is +stride from a stride-aligned start, which always comes back) is first run
 * in a forked child; if the child has not reported by the time it has spun for
 * watchdog_ms of CPU time it is killed with SIGKILL and the map is reported as a hang
 * ("hang": true, and "hung at op N" on stderr) and not run in this process, whose
 * state stays as it was. Otherwise the map is run here (the same code on the same
 * state gives the same answer). CPU time, not wall time: a map that returns needs
 * microseconds of CPU, however long a loaded host keeps the child waiting for one
 * (/proc/<pid>/stat; where that cannot be read, wall time). Whatever the CPU time, the
 * wait ends after 60 times watchdog_ms of wall time.
 * (A SIGALRM + siglongjmp watchdog did not bring the spinning code back reliably.)
 */
static int watchdog_ms = 2000; /* SWIOTLB_REPLAY_WATCHDOG_MS overrides */

/* The CPU time (user + system) process pid has used, in ms; -1 if /proc cannot say. */
static long cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long utime, stime;
	/* after the name: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	return (long)((utime + stime) * 1000 / (unsigned long)(hz > 0 ? hz : 100));
}

/* 1: the map returns (its address in *addr); 0: it hung and the child was killed. */
static int map_returns(uint64_t orig, uint64_t size, unsigned int align, int cpu, uint64_t *addr)
{
	int fd[2];
	if (pipe(fd)) { perror("swiotlb-replay: pipe"); exit(1); }
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) { perror("swiotlb-replay: fork"); exit(1); }
	if (pid == 0) {
		close(fd[0]);
		uint64_t a = oswl_map(orig, size, align, 1, cpu);
		ssize_t w = write(fd[1], &a, sizeof(a));
		_exit(w == (ssize_t)sizeof(a) ? 0 : 1);
	}
	close(fd[1]);
	struct pollfd p = { fd[0], POLLIN, 0 };
	int r;
	long waited = 0;
	for (;;) {
		do r = poll(&p, 1, 50); while (r < 0 && errno == EINTR);
		if (r != 0) break;
		waited += 50;
		long spun = cpu_ms(pid);
		if (spun >= 0 ? spun >= watchdog_ms || waited >= 60L * watchdog_ms : waited >= watchdog_ms) break;
	}
	ssize_t got = 0;
	if (r > 0) got = read(fd[0], addr, sizeof(*addr));
	close(fd[0]);
	if (got != (ssize_t)sizeof(*addr)) kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
	return got == (ssize_t)sizeof(*addr);
}

static void bad(int scenario, long op, const char *fmt, const char *detail)
{
	if (op >= 0)
		fprintf(stderr, "replay trace: scenario %d: op %ld: ", scenario, op);
	else
		fprintf(stderr, "replay trace: scenario %d: pool: ", scenario);
	fprintf(stderr, fmt, detail);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t field(const struct jval *o, const char *key, uint64_t fallback, bool required, int s, long op)
{
	const struct jval *v = json_get(o, key);
	uint64_t n;
	if (!v) {
		if (required) bad(s, op, "missing field \"%s\"", key);
		return fallback;
	}
	if (json_u64(v, &n)) bad(s, op, "%s is not a non-negative integer or a \"0x...\" string", key);
	return n;
}

static bool low_mask(uint64_t m) { return (m & (m + 1)) == 0; }

static void print_name(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') printf("\\%c", c);
		else if (c < 0x20) printf("\\u%04x", c);
		else putchar(c);
	}
	putchar('"');
}

/* A live map: its id, bounce address, size and the device it was made for (the unmap is the same device's). */
struct live { uint64_t id, addr, size; bool ok; unsigned int min_align; unsigned long boundary; };

static void run(const struct jval *sc, int s, bool execute)
{
	const struct jval *pool = json_get(sc, "pool"), *ops = json_get(sc, "ops");
	if (!pool || pool->type != J_OBJ) bad(s, -1, "%s", "missing field \"pool\"");
	uint64_t start = field(pool, "start", 0, true, s, -1);
	uint64_t nslabs = field(pool, "nslabs", 0, true, s, -1);
	uint64_t nareas = field(pool, "nareas", 1, false, s, -1);
	uint64_t page = field(pool, "page_size", 65536, false, s, -1);
	if (nslabs == 0 || nslabs % 128 || nslabs > (1u << 24)) bad(s, -1, "%s", "nslabs is not a positive multiple of 128 up to 2^24");
	if (page < 2048 || page > (1u << 30) || (page & (page - 1))) bad(s, -1, "%s", "page_size is not a power of two in 2048...2^30");
	if (start % page) bad(s, -1, "%s", "start is not aligned to page_size");
	if (start > UINT64_MAX - (nslabs << 11) - page) bad(s, -1, "%s", "start + size wraps the address space");
	if (nareas < 1 || (nareas & (nareas - 1)) || nareas > nslabs / 128 || nslabs % (nareas * 128)) bad(s, -1, "%s", "nareas does not split the pool into whole segments");
	if (!ops || ops->type != J_ARR) bad(s, -1, "%s", "missing field \"ops\"");

	/* Validate everything before running anything, as the Swift reader does. */
	size_t n = ops->n;
	struct live *lv = calloc(n + 1, sizeof(*lv));
	size_t nlive = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jval *o = ops->items[i];
		const struct jval *kind = json_get(o, "op");
		if (!kind || kind->type != J_STR) bad(s, (long)i, "%s", "missing field \"op\"");
		uint64_t id = field(o, "id", 0, true, s, (long)i);
		size_t k;
		for (k = 0; k < nlive && lv[k].id != id; k++) {}
		if (!strcmp(kind->text, "map")) {
			field(o, "orig_addr", 0, true, s, (long)i);
			uint64_t size = field(o, "size", 0, true, s, (long)i);
			uint64_t a = field(o, "alloc_align_mask", 0, false, s, (long)i);
			uint64_t m = field(o, "min_align_mask", 0, false, s, (long)i);
			uint64_t b = field(o, "seg_boundary_mask", UINT64_MAX, false, s, (long)i);
			uint64_t orig = field(o, "orig_addr", 0, true, s, (long)i);
			uint64_t cpu = field(o, "cpu", 0, false, s, (long)i);
			if (k < nlive) bad(s, (long)i, "%s", "map id is still mapped by an earlier op");
			if (size == 0 || size > (1u << 30)) bad(s, (long)i, "%s", "size is outside 1...2^30");
			if (!low_mask(a) || a > UINT32_MAX) bad(s, (long)i, "%s", "alloc_align_mask is not a 32-bit low mask");
			if (!low_mask(m) || m > UINT32_MAX) bad(s, (long)i, "%s", "min_align_mask is not a 32-bit low mask");
			if (!low_mask(b) || b < 0x7ff) bad(s, (long)i, "%s", "seg_boundary_mask is not a low mask of at least 0x7ff");
			if (orig > UINT64_MAX - size) bad(s, (long)i, "%s", "orig_addr + size wraps the address space");
			if (cpu > INT32_MAX) bad(s, (long)i, "%s", "cpu is outside 0...2^31-1");
			lv[nlive++].id = id;
		} else if (!strcmp(kind->text, "unmap")) {
			if (k == nlive) bad(s, (long)i, "%s", "unmap id names no earlier, still-mapped map");
			lv[k] = lv[--nlive];
		} else {
			bad(s, (long)i, "op \"%s\" is neither \"map\" nor \"unmap\"", kind->text);
		}
	}
	if (!execute) {
		free(lv);
		return;
	}

	if (oswl_pool_create(start, nslabs, (unsigned)nareas, (unsigned)__builtin_ctzll(page))) {
		fprintf(stderr, "swiotlb-replay: cannot create the pool\n");
		exit(1);
	}
	const struct jval *name = json_get(sc, "name");
	printf("{\"name\": ");
	print_name(name && name->type == J_STR ? name->text : "default");
	printf(", \"results\": [\n");
	nlive = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jval *o = ops->items[i];
		uint64_t id = field(o, "id", 0, true, s, (long)i);
		bool ok, hang = false;
		uint64_t addr = 0;
		bool map = !strcmp(json_get(o, "op")->text, "map");
		if (map) {
			uint64_t size = field(o, "size", 0, true, s, (long)i);
			unsigned int min_align = (unsigned)field(o, "min_align_mask", 0, false, s, (long)i);
			unsigned long boundary = (unsigned long)field(o, "seg_boundary_mask", UINT64_MAX, false, s, (long)i);
			oswl_device(min_align, boundary);
			uint64_t orig = field(o, "orig_addr", 0, true, s, (long)i);
			unsigned int align = (unsigned)field(o, "alloc_align_mask", 0, false, s, (long)i);
			int cpu = (int)field(o, "cpu", 0, false, s, (long)i);
			uint64_t probe = 0;
			bool plus_one = orig != 0 && (min_align & ~(align | 0x7ffu)) != 0;
			if (plus_one && !map_returns(orig, size, align, cpu, &probe)) {
				hang = true;
				addr = OSWL_MAPPING_ERROR;
				fprintf(stderr, "swiotlb-replay: scenario %d: hung at op %zu (map of %llu bytes, "
					"min_align_mask 0x%x, alloc_align_mask 0x%x): killed after %d ms of CPU\n",
					s, i, (unsigned long long)size, min_align, align, watchdog_ms);
			} else {
				addr = oswl_map(orig, size, align, 1, cpu);
			}
			ok = addr != OSWL_MAPPING_ERROR;
			lv[nlive++] = (struct live){ id, addr, size, ok, min_align, boundary };
		} else {
			size_t k;
			for (k = 0; lv[k].id != id; k++) {}
			ok = lv[k].ok;
			if (ok) {
				oswl_device(lv[k].min_align, lv[k].boundary);
				oswl_unmap(lv[k].addr, lv[k].size, 1);
			}
			lv[k] = lv[--nlive];
		}
		printf("{\"i\": %zu, \"op\": \"%s\", \"id\": %llu, \"ok\": %s", i, map ? "map" : "unmap",
		       (unsigned long long)id, ok ? "true" : "false");
		if (map && ok) printf(", \"tlb_addr\": \"0x%llx\"", (unsigned long long)addr);
		if (hang) printf(", \"hang\": true");
		printf(", \"used_after\": %lu}%s\n", oswl_used(), i + 1 < n ? "," : "");
	}
	printf("]}");
	free(lv);
	oswl_pool_destroy();
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: swiotlb-replay FILE.json   (Linux %s)\n", oswl_kernel_version);
		return 64;
	}
	FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
	if (!f) { fprintf(stderr, "swiotlb-replay: cannot open %s\n", argv[1]); return 2; }
	size_t cap = 1 << 16, len = 0, r;
	char *text = malloc(cap);
	while ((r = fread(text + len, 1, cap - len - 1, f)) > 0) {
		len += r;
		if (len + 1 >= cap) text = realloc(text, cap *= 2);
	}
	text[len] = 0;
	char err[200];
	struct jval *root = json_parse(text, err, sizeof(err));
	if (!root || root->type != J_OBJ) {
		fprintf(stderr, "replay trace: %s\n", root ? "the top level is not an object" : err);
		return 2;
	}
	oracle_quiet = true;
	const char *ms = getenv("SWIOTLB_REPLAY_WATCHDOG_MS");
	if (ms && atoi(ms) > 0) watchdog_ms = atoi(ms);
	const struct jval *list = json_get(root, "scenarios");
	if (list && list->type != J_ARR) { fprintf(stderr, "replay trace: scenarios is not a list\n"); return 2; }
	/* Check every scenario before printing anything. */
	if (list)
		for (size_t i = 0; i < list->n; i++) run(list->items[i], (int)i, false);
	else
		run(root, 0, false);
	printf("{\"scenarios\": [\n");
	if (list) {
		for (size_t i = 0; i < list->n; i++) {
			run(list->items[i], (int)i, true);
			printf("%s\n", i + 1 < list->n ? "," : "");
		}
	} else {
		run(root, 0, true);
		printf("\n");
	}
	printf("]}\n");
	return 0;
}
