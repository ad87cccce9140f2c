/*
 * The lib/ functions the oracle programs share, lifted whole by Scripts/linux-oracle
 * from the kernel tree being built (project-written wrapper):
 * lib/kstrtox.c: _parse_integer_fixup_radix, _parse_integer_limit;
 * lib/vsprintf.c: simple_strntoull, simple_strtoull, simple_strtoul;
 * lib/cmdline.c: next_arg.
 */
#include "svmkit_compat.h"
#include "strtoul.inc"
#include "next_arg.inc"
