/* SPDX-License-Identifier: GPL-2.0 */
/* /proc/PID/pagemap: which pages exist, which are dirty since the last pass. */
#ifndef MEMSPLICE_PAGEMAP_H
#define MEMSPLICE_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PME_PRESENT	(1ULL << 63)
#define PME_SWAP	(1ULL << 62)
#define PME_FILE	(1ULL << 61)	/* page cache or shmem page, not anon */
#define PME_EXCLUSIVE	(1ULL << 56)
#define PME_SOFT_DIRTY	(1ULL << 55)
#define PME_PFN_MASK	((1ULL << 55) - 1)

/* What this kernel and this user can see; probed once per run. */
struct kerndat {
	uint64_t zero_pfn;	/* PFN of the zero page, 0 if PFNs are hidden from us */
	bool soft_dirty;	/* CONFIG_MEM_SOFT_DIRTY works */
	bool proc_children;	/* /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN) */
	bool pagemap_scan;	/* the PAGEMAP_SCAN ioctl (6.7+) */
};

int kerndat_probe(struct kerndat *kd);

/*
 * pagemap_read - read the entries of @nr pages starting at @addr of the
 * pagemap opened as @fd.  0 or -errno.
 */
int pagemap_read(int fd, unsigned long addr, unsigned long nr, uint64_t *pme);

/* pme_wanted - should a page with entry @pme be dumped from a private VMA? */
bool pme_wanted(const struct kerndat *kd, uint64_t pme, bool file_private);

/* clear_soft_dirty - write "4" to /proc/@pid/clear_refs. 0 or -errno. */
int clear_soft_dirty(pid_t pid);

#endif
