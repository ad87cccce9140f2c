/*
 * svm-cmdline (project-written): for each line of stdin, the bootargs property as
 * QEMU would pass it, runs prom_init's real early_cmdline_parse() (lifted whole from
 * arch/powerpc/kernel/prom_init.c with prom_strstr, prom_strtobool and the string
 * helpers it calls) and prints prom_svm_enable: "1" or "0". Shims: prom_getprop()
 * (OF getprop: copies up to the buffer length, returns the property length),
 * prom_printf()/prom_debug() to nothing.
 */
#include "svmkit_compat.h"

typedef u32 phandle;
static struct { phandle chosen; } prom = { 1 };
static char prom_cmd_line[COMMAND_LINE_SIZE];
static int prom_iommu_off, prom_iommu_force_on;
static unsigned long prom_memory_limit;
static bool prom_radix_disable, prom_radix_gtse_disable, prom_xive_disable, prom_svm_enable;
static const char *bootargs;
#define __prombss
#define prom_printf(...) do { } while (0)
#define prom_debug(...) do { } while (0)

static int prom_getprop(phandle node, const char *pname, void *value, size_t valuelen)
{
	(void)node;
	(void)pname;
	size_t len = strlen(bootargs) + 1; /* the property includes its NUL */
	memcpy(value, bootargs, len < valuelen ? len : valuelen);
	return (int)len;
}

#include "prom.inc"

int main(void)
{
	static char line[1 << 16];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		bootargs = line;
		prom_svm_enable = false;
		memset(prom_cmd_line, 0, sizeof(prom_cmd_line));
		early_cmdline_parse();
		printf("%d\n", prom_svm_enable);
	}
	return 0;
}
