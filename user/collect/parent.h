/* SPDX-License-Identifier: GPL-2.0 */
/* The previous image set of a pre-dump chain: which pages it holds. */
#ifndef MEMSPLICE_PARENT_H
#define MEMSPLICE_PARENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct parent {
	int dirfd;		/* -1: no parent */
	uint64_t dump_uptime;	/* microseconds after boot, 0 if unknown */
	pid_t *pids;		/* its pstree.img: the processes it holds */
	unsigned int nr_pids;
	bool any_pid;		/* no pstree.img (a criu pre-dump): not known */
};

/* pages the parent has for one process: sorted, merged [start, end) ranges */
struct parent_map {
	struct prange { unsigned long start, end; } *r;
	unsigned int nr;
};

/*
 * parent_open - open @rel (relative to the images dir @dirfd, as the
 * DIR/parent link will be) and check it is a complete image set (inventory
 * and pstree, which a criu pre-dump does not write) that is neither the
 * images dir itself nor a descendant of it (its chain of parent links would
 * loop).  A missing or corrupt parent is an error.
 */
int parent_open(struct parent *p, int dirfd, const char *rel);
void parent_close(struct parent *p);
/*
 * parent_map_load - what the parent holds for @vpid (the pid in the task's
 * own namespace, which names its images).  Empty when the parent has no
 * pagemap for it, its pstree.img does not list @vpid, or the pid was reused
 * (the process started after the parent was dumped).
 */
int parent_map_load(const struct parent *p, pid_t vpid, unsigned long long start_ticks,
		    struct parent_map *m);
/*
 * parent_map_load_shmem - what the parent holds of shared segment @shmid
 * (by offset).  Nothing tells whether the parent's segment of that id is
 * the same one: only a tracker that saw the segment in the parent's pass
 * may take pages from it.
 */
int parent_map_load_shmem(const struct parent *p, unsigned long shmid, struct parent_map *m);
bool parent_map_covers(const struct parent_map *m, unsigned long addr);
/*
 * parent_map_span - the end of the longest [@addr, x) within [@addr, @end)
 * that the parent covers wholly (*@covered true) or not at all (false).
 */
unsigned long parent_map_span(const struct parent_map *m, unsigned long addr, unsigned long end,
			      bool *covered);
void parent_map_free(struct parent_map *m);

/* parent_read_inventory - read inventory.img of @dirfd; 0, -ENOENT, -EBADMSG */
struct InventoryEntry;
int read_inventory(int dirfd, struct InventoryEntry **inv);

#endif
