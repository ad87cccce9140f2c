/*
 * swiotlb-cmdline (project-written): for each line of stdin (a kernel command line),
 * splits it with the kernel's own next_arg() (lib/cmdline.c), hands every
 * `swiotlb=VALUE` to the real setup_io_tlb_npages() in order, as
 * parse_early_options() does, and prints the parse state and the pool's size for
 * POSSIBLE_CPUS: "nslabs nareas force disable init_nslabs init_nareas".
 * `swiotlb` without a value is skipped: do_early_param() would pass NULL, which
 * setup_io_tlb_npages() dereferences (listed in the divergence table).
 */
#include "oracle_swiotlb.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *next_arg(char *args, char **param, char **val);

int main(int argc, char **argv)
{
	unsigned possible = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1;
	char line[8192];
	oracle_quiet = true;
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		oswl_cmdline_reset();
		char *args = line, *param, *val;
		while (*args == ' ') args++;
		while (*args) {
			args = next_arg(args, &param, &val);
			/* kernel/params.c: parse_args() stops at "--" (the rest is init's). */
			if (!val && !strcmp(param, "--"))
				break;
			if (!strcmp(param, "swiotlb") && val)
				oswl_cmdline_apply(val);
		}
		unsigned long nslabs, nareas, init_nslabs;
		unsigned int init_nareas;
		bool force, disable;
		oswl_cmdline_state(&nslabs, &nareas, &force, &disable);
		oswl_cmdline_init(possible, &init_nslabs, &init_nareas);
		printf("%lu %lu %d %d %lu %u\n", nslabs, nareas, force, disable, init_nslabs, init_nareas);
	}
	return 0;
}
