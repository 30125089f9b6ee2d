/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pages a restored process still misses: runs of addresses, each
 * with the offset of its first byte in the process's pages image.  Kept
 * sorted and disjoint; what the process does to its mappings (munmap,
 * mremap, MADV_DONTNEED) and what has been filled take pieces out, a
 * mremap moves them (the offset goes with the bytes).
 */
#ifndef MEMSPLICE_RESTORE_RUNS_H
#define MEMSPLICE_RESTORE_RUNS_H

#include <stddef.h>
#include <stdint.h>

struct run {
	uint64_t start, end;	/* [start, end), page-aligned */
	uint64_t off;		/* of start's bytes in the pages image */
};

struct runs {
	struct run *v;
	size_t nr, cap;
};

/* runs_add - append [@start, @end) at @off; it must lie after every run held */
int runs_add(struct runs *r, uint64_t start, uint64_t end, uint64_t off);
/* runs_find - the run holding @addr, or NULL */
const struct run *runs_find(const struct runs *r, uint64_t addr);
/* runs_drop - take [@start, @end) out */
int runs_drop(struct runs *r, uint64_t start, uint64_t end);
/* runs_move - what lies in [@from, @from + @len) now lies at @to */
int runs_move(struct runs *r, uint64_t from, uint64_t to, uint64_t len);
int runs_copy(struct runs *to, const struct runs *from);
uint64_t runs_bytes(const struct runs *r);
void runs_free(struct runs *r);

#endif
