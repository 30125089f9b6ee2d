/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking without soft-dirty and without a freeze: userfaultfd
 * write-protection in async mode (Linux 6.7), read with PAGEMAP_SCAN.
 *
 * A userfaultfd is created in each process of the tree (by the parasite,
 * while the tree is frozen for the first pass, so the kernel judges it on
 * the process's own credentials), copied out with pidfd_getfd() and closed
 * in the process again: its fd table is left as it was, and the tracker's
 * fds live in memsplice only.  If memsplice dies, the kernel drops the
 * registrations with the last fd, and the process runs on untouched.
 *
 * Each pass registers the VMAs it finds (UFFDIO_REGISTER_MODE_WP, async:
 * a write to a protected page just clears its protection, in the kernel,
 * with a minor fault) and scans them with PAGEMAP_SCAN PM_SCAN_WP_MATCHING:
 * for each page, under its page table lock, the kernel reports whether it
 * was written since it was last protected, and protects it again.  The
 * pass then reads the pages it was told about, the tree running.  A write
 * after a page was protected is reported by the next pass, so a page
 * reported unwritten still holds what the pass that last read it saw.
 *
 * A VMA is reported in full (every page written) the first time the
 * tracker sees it, and whenever the kernel says it is not registered any
 * more (unmapped and mapped again, moved by mremap).  A VMA that the
 * process registered with a userfaultfd of its own is left alone, and
 * always dumped in full.  A VMA holding transparent huge pages is tracked
 * like any other: where the kernel keeps a protected huge page whole when
 * it is written (kernel/patches/uffd-wp-thp/), the next pass reports its
 * 2 MiB as written; a stock kernel splits it at that write and the next
 * pass reports the pages written, the huge page lost to the process while
 * the range stays protected (huge.h).  Where that is too high a price,
 * --keep-huge-pages leaves a VMA that holds a huge page when the tracker
 * would register it unprotected, dumped in full every pass, on such
 * kernels.  (A huge page that appears later in a registered VMA is split
 * at its first write after a pass, there.)  The kernel
 * does not say whose registration a VMA carries: a process that unmaps a
 * tracked range and registers its own async write-protection at the same
 * addresses would be scanned as ours (and its own written bits consumed).
 * The tracker only knows the ranges it registered itself.
 *
 * Private memory is tracked VMA by VMA, as above.  Shared anonymous
 * segments are tracked segment by segment, over every mapping of each
 * (shm_tracker_written(), below); SysV shm, memfd and hugetlb segments are
 * not tracked, and written whole in every pass.
 */
#ifndef MEMSPLICE_TRACK_UFFD_H
#define MEMSPLICE_TRACK_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "collect/pagemap-scan.h"

struct pstree;
struct task;

#include "track/shm.h"

struct uffd_range {
	unsigned long start, end;
};

/* one process's userfaultfd, and the ranges registered with it */
struct uffd_proc {
	pid_t pid;
	unsigned long long start_time;	/* the same pid, the same process */
	int fd;
	struct uffd_range *ranges;
	unsigned int nr_ranges;
	bool protect_huge;	/* VMAs holding huge pages are registered too */
};

struct uffd_tracker {
	unsigned long long features;	/* asked of every userfaultfd */
	bool protect_huge;		/* as uffd_proc's, for every process */
	struct uffd_proc *procs;
	unsigned int nr;
	/*
	 * The tree as the first pass froze it: passes that do not freeze
	 * dump the processes of this tree that still live.
	 */
	struct pstree *tree;
	struct shm_tracker shm;	/* shared anonymous segments (above) */
};

/*
 * uffd_probe - whether this kernel offers async write-protect tracking:
 * 0, or -errno with the reason in @why.
 */
int uffd_probe(char *why, size_t len);

/*
 * uffd_open - a userfaultfd of memsplice's own in *@fdp, set up for async
 * write-protection as the tracker's are: 0 or -errno.
 */
int uffd_open(int *fdp);

/*
 * uffd_tracker_init - an empty tracker; 0, or -errno with the reason
 * printed.  @keep_huge: leave VMAs holding huge pages unprotected where
 * the kernel would split them (above).
 */
int uffd_tracker_init(struct uffd_tracker *tr, bool keep_huge);
void uffd_tracker_free(struct uffd_tracker *tr);

/*
 * uffd_tracker_attach - a userfaultfd for every live process of @tree that
 * has none yet (the tree frozen, @tree as pstree_seize() left it).  0, or
 * -errno with the reason printed; the processes are as they were either way.
 */
int uffd_tracker_attach(struct uffd_tracker *tr, const struct pstree *tree);

/*
 * uffd_tracker_keep - keep @tree (moved: *@tree is empty afterwards) instead
 * of the one kept before.  -ENOMEM: none is kept; the next pass freezes.
 */
int uffd_tracker_keep(struct uffd_tracker *tr, struct pstree *tree);

/* uffd_tracker_find - the tracker of task @t, or NULL */
struct uffd_proc *uffd_tracker_find(struct uffd_tracker *tr, const struct task *t);

/*
 * uffd_scan - the dumpable pages of [@start, @end) (one VMA of @p's process,
 * read through @pagemap_fd) to @cb, "dirty" meaning written since the last
 * scan of the tracker, and write-protected again.  The whole range is
 * dirty when it is new to the tracker or not registered any more.  0 or
 * -errno.
 */
int uffd_scan(struct uffd_proc *p, int pagemap_fd, unsigned long start, unsigned long end,
	      pm_scan_cb cb, void *arg);

/*
 * uffd_scan_shared - [@start, @end), one mapping of a shared segment in
 * @p's process, to @cb page by page as pm_scan_protect_all() has it, every
 * page protected again: 0.  1 when it cannot say what was written: the
 * mapping is new to the tracker (registered now, @cb not called), is not
 * registered any more, holds huge pages, or the process registered it
 * itself.  -ENOMEM.
 */
int uffd_scan_shared(struct uffd_proc *p, int pagemap_fd, unsigned long start, unsigned long end,
		     pm_scan_cat_cb cb, void *arg);

#endif
