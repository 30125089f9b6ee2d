/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PAGEMAP_SCAN ioctl (Linux 6.7): the kernel walks the page tables and
 * returns ranges of pages in the categories asked for, instead of 8 bytes
 * per page through read(2).  A sparse terabyte costs what its populated
 * page tables cost, not what its size does.
 */
#ifndef MEMSPLICE_PAGEMAP_SCAN_H
#define MEMSPLICE_PAGEMAP_SCAN_H

#include <stdbool.h>
#include <linux/fs.h>
#include <linux/types.h>

#ifndef PAGEMAP_SCAN	/* uapi of 6.7, for older headers (Debian 12's are 6.1) */
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN	_IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING	(1 << 0)	/* write-protect the pages reported */
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)	/* -EPERM where no async uffd-wp is registered */
#endif

/* pm_scan_supported - whether this kernel has PAGEMAP_SCAN (@fd: any pagemap) */
bool pm_scan_supported(int fd);

/*
 * pm_scan_cb - one range [@start, @end) of dumpable pages, all soft-dirty or
 * all clean (@soft_dirty: the page table bit or, as /proc/PID/pagemap has
 * it, the VMA's VM_SOFTDIRTY of a new or merged VMA).  0 to go on, or
 * -errno to stop.
 */
typedef int (*pm_scan_cb)(void *arg, unsigned long start, unsigned long end, bool soft_dirty);

/* pm_scan_has_huge - 1 if [@start, @end) maps a huge page (THP, hugetlb), 0 if not, or -errno */
int pm_scan_has_huge(int fd, unsigned long start, unsigned long end);

/* what pm_scan_dumpable() calls dirty */
enum pm_dirty {
	PM_DIRTY_SOFT,		/* soft-dirty (PAGE_IS_SOFT_DIRTY) */
	/*
	 * Written since write-protected by userfaultfd (async mode), and
	 * write-protected again in the same step (track/uffd.h).  -EPERM
	 * when the range holds a VMA not registered for that.
	 */
	PM_DIRTY_WRITTEN,
	PM_DIRTY_ALL_WP,	/* every page, write-protected as PM_DIRTY_WRITTEN does */
	PM_DIRTY_ALL,		/* every page */
};

/*
 * pm_scan_dumpable - the pages of [@start, @end) that a dump takes from a
 * private mapping: present or swapped, not the zero page, not a file's own
 * page (never written here).  @cb gets them in address order, dirty as
 * @how says.  0 or -errno; *@at (if not NULL) is where the scan stopped:
 * @cb has had every page before it, none after.
 */
int pm_scan_dumpable(int fd, unsigned long start, unsigned long end, enum pm_dirty how,
		     pm_scan_cb cb, void *arg, unsigned long *at);

/*
 * pm_scan_cat_cb - one range [@start, @end) of pages alike: @cat is what
 * they were before the scan, PAGE_IS_PRESENT, PAGE_IS_SWAPPED (a pte
 * marker too) and PAGE_IS_WRITTEN of them, 0 for a page no page table
 * holds.  0 to go on, or -errno to stop.
 */
typedef int (*pm_scan_cat_cb)(void *arg, unsigned long start, unsigned long end, __u64 cat);

/*
 * pm_scan_protect_all - every page of [@start, @end), in address order, to
 * @cb, all of them write-protected again (userfaultfd async mode, as
 * PM_DIRTY_WRITTEN does; with UFFD_FEATURE_WP_UNPOPULATED a page no page
 * table holds gets a pte marker; @cb NULL: none).  File pages included.  0,
 * -EPERM where the range is not registered for async write-protection, or
 * -errno.
 */
int pm_scan_protect_all(int fd, unsigned long start, unsigned long end, pm_scan_cat_cb cb,
			void *arg);

#endif
