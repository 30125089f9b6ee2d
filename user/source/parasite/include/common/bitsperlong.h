/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compel's installed <compel/plugins/std/syscall-types.h> includes this file,
 * which Debian's criu 3.17.1 package does not ship.  memsplice's own stand-in.
 */
#ifndef MEMSPLICE_COMPAT_COMMON_BITSPERLONG_H
#define MEMSPLICE_COMPAT_COMMON_BITSPERLONG_H

#include "common/asm/bitsperlong.h"

#endif
