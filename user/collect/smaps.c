// SPDX-License-Identifier: GPL-2.0
/*
 * Which VMAs hold no page at all, from /proc/PID/smaps (Rss and Swap both
 * 0): the pagemap walk (kernels without PAGEMAP_SCAN) reads 8 bytes for
 * every page of a VMA, and a mostly empty reservation would cost that for
 * nothing.  smaps walks only the page tables that exist.
 */
#define LOG_PREFIX "smaps: "
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/smaps.h"
#include "log.h"
#include "util.h"

/* the index of the VMA starting at @start and ending at @end, or -1 */
static long vma_index(const struct vma_list *vl, unsigned long start, unsigned long end)
{
	unsigned int lo = 0, hi = vl->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (vl->v[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < vl->nr && vl->v[lo].start == start && vl->v[lo].end == end)
		return lo;
	return -1;
}

int smaps_empty_vmas(const struct target *t, const struct vma_list *vl, bool *empty)
{
	unsigned long start, end, kib, pages = 0;
	char path[64], *buf, *line, *save;
	long idx = -1;
	int ret;

	memset(empty, 0, vl->nr * sizeof(*empty));
	snprintf(path, sizeof(path), "/proc/%d/smaps", t->pid);
	ret = read_file(path, &buf, NULL);
	if (ret)
		return ret == -ENOENT ? -ESRCH : ret;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char c;

		if (sscanf(line, "%lx-%lx %c", &start, &end, &c) == 3) {
			if (idx >= 0)
				empty[idx] = !pages;
			idx = vma_index(vl, start, end);
			pages = 0;
		} else if (sscanf(line, "Rss: %lu kB", &kib) == 1 ||
			   sscanf(line, "Swap: %lu kB", &kib) == 1) {
			pages += kib;
		}
	}
	if (idx >= 0)
		empty[idx] = !pages;
	free(buf);
	/* read by pid: only ours if the process is still there */
	if (target_gone(t)) {
		memset(empty, 0, vl->nr * sizeof(*empty));
		return -ESRCH;
	}
	return 0;
}
