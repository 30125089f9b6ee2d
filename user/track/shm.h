/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MEMSPLICE_TRACK_SHM_H
#define MEMSPLICE_TRACK_SHM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "track/forks.h"

struct pstree;
struct task_mm;
struct uffd_tracker;

/*
 * Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS): which pages of a
 * segment were written since the last pass.  Every mapping of the segment
 * in the tree is registered with its process's userfaultfd and scanned
 * with PAGEMAP_SCAN, every page of it protected again (a page no page
 * table holds gets a pte marker, UFFD_FEATURE_WP_UNPOPULATED).  A page of
 * the segment counts as written when, in any mapping that covers it, it
 * was written since it was last protected, or its page table entry is
 * gone (a written page reclaimed, MADV_DONTNEED): the union over all
 * mappings, offset = pgoff + address - mapping start.  A page that no
 * mapping covers cannot be written but through a mapping that is new.
 *
 * The whole segment counts as written (as without the tracker) when the
 * tracker cannot be sure:
 * - its mappings in the tree are not those of the last pass (a mapping
 *   appeared, vanished, moved, or its process exited), one is new to the
 *   tracker, cannot be registered (huge pages, a userfaultfd of the
 *   process's own) or is not registered any more, or a scan failed;
 * - a process outside the tree maps it (sticky for the segment: what it
 *   wrote before it unmapped would not show);
 * - a process of the tree forked since the last pass, or forks cannot be
 *   seen (above);
 * - its size changed, or the tracker never saw it.
 * And a page is written whose bytes differ from what they were when the
 * last pass had protected it (a 64-bit hash of each page, every pass): a
 * hole punched (MADV_REMOVE) and read in again before the next pass is a
 * new zero page under the old page's protection, which a pte marker kept.
 *
 * Not seen, as for private memory: writes that bypass the page tables (a
 * device's DMA into pinned pages); nor a process that maps the segment
 * through /proc/PID/map_files (CAP_SYS_ADMIN), writes and unmaps between
 * two passes.  SysV shm, memfd and hugetlb segments are not tracked:
 * memsplice's own mapping of a SysV segment changes the attach times and
 * count that would witness an outsider; a memfd can be written with
 * write(2) through any fd; a hugetlb page cannot be protected unsplit.
 */
/* one mapping of a segment in the tree */
struct shm_map {
	pid_t pid;
	unsigned long long start_time;
	unsigned long start, end, pgoff;
};

/* a segment as the last pass saw it */
struct shm_seg {
	dev_t dev;
	unsigned long ino;
	off_t size;
	uint64_t *hash;		/* of each page's bytes (0: no page), as the last pass saw them */
	bool outsider;		/* a process outside the tree mapped it once */
	unsigned long fork_gen;	/* fork_watch.gen as the last pass saw it */
	struct shm_map *maps;
	unsigned int nr_maps;
};

struct shm_tracker {
	struct shm_seg *segs;
	unsigned int nr;
	struct fork_watch forks;
};

/*
 * shm_tracker_written - the pages of a segment (@fd: its file, @st its
 * fstat(), @map: all of it mapped readable by memsplice) written since the
 * tracker's last pass, as a bitmap of @st->st_size pages in *@written (a
 * set bit: written), or NULL: all of them.  Every mapping of it in @tree
 * (@mms its memory maps) is registered and protected again, then every
 * page of it read.  0, or -ENOMEM (printed).
 */
int shm_tracker_written(struct uffd_tracker *tr, const struct pstree *tree,
			const struct task_mm *mms, int fd, const struct stat *st, const void *map,
			unsigned long **written);

void shm_tracker_init(struct shm_tracker *st);
void shm_tracker_free(struct shm_tracker *st);

#endif
