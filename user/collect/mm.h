/* SPDX-License-Identifier: GPL-2.0 */
/* mm-PID.img: a process's VMAs, mm_struct fields and auxv. */
#ifndef MEMSPLICE_MM_H
#define MEMSPLICE_MM_H

#include <stdint.h>
#include <sys/types.h>

#include "collect/vma.h"

/* what was collected of one process while the tree was frozen */
struct task_mm {
	struct vma_list vmas;
	uint64_t stat[11];	/* mm_entry fields 1..11 */
	uint64_t *auxv;
	unsigned int nr_auxv;
};

struct imgset;

/* mm_collect - read them from /proc/@pid; 0 or -errno (-ESRCH: gone) */
int mm_collect(pid_t pid, struct task_mm *mm);
int mm_write(struct imgset *set, pid_t pid, const struct task_mm *mm);
void mm_free(struct task_mm *mm);

#endif
