/* SPDX-License-Identifier: GPL-2.0 */
/* /proc/PID/smaps: the VMAs that hold no page, so the pagemap walk can skip them. */
#ifndef MEMSPLICE_SMAPS_H
#define MEMSPLICE_SMAPS_H

#include <stdbool.h>

#include "collect/vma.h"
#include "tree/target.h"

/*
 * smaps_empty_vmas - @empty[i] (parallel to @vl, sorted by address) tells
 * whether VMA i has neither resident nor swapped pages.  A VMA smaps shows
 * with other bounds (split or merged since @vl was read) is never called
 * empty.  0 or -errno (-ESRCH: the process is gone).
 */
int smaps_empty_vmas(const struct target *t, const struct vma_list *vl, bool *empty);

#endif
