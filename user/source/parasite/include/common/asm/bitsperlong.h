/* SPDX-License-Identifier: GPL-2.0 */
/* Stand-in for the unshipped per-arch half of compel's common/bitsperlong.h. */
#ifndef MEMSPLICE_COMPAT_COMMON_ASM_BITSPERLONG_H
#define MEMSPLICE_COMPAT_COMMON_ASM_BITSPERLONG_H

/* the compiler knows; usable in #if, which is all compel needs */
#ifndef BITS_PER_LONG
#define BITS_PER_LONG (__SIZEOF_LONG__ * 8)
#endif

#endif
