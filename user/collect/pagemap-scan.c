// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX "pagemap-scan: "
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "collect/pagemap-scan.h"
#include "log.h"
#include "util.h"

#define VEC_LEN		512	/* ranges per ioctl */

bool pm_scan_supported(int fd)
{
	struct pm_scan_arg a;

	/* a zero size: EINVAL from a kernel that knows the ioctl, ENOTTY otherwise */
	memset(&a, 0, sizeof(a));
	return !(ioctl(fd, PAGEMAP_SCAN, &a) < 0 && errno == ENOTTY);
}

static int scan(int fd, struct pm_scan_arg *a, struct page_region *vec, long *n)
{
	*n = ioctl(fd, PAGEMAP_SCAN, a);
	if (*n < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

int pm_scan_has_huge(int fd, unsigned long start, unsigned long end)
{
	struct page_region r;
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = start,
		.end = end,
		.vec = (__u64)(unsigned long)&r,
		.vec_len = 1,
		.max_pages = 1,
		.category_mask = PAGE_IS_HUGE,
		.return_mask = PAGE_IS_HUGE,
	};
	long n;
	int ret = scan(fd, &a, &r, &n);

	return ret ? ret : n > 0;
}

int pm_scan_dumpable(int fd, unsigned long start, unsigned long end, enum pm_dirty how,
		     pm_scan_cb cb, void *arg, unsigned long *at)
{
	static const struct { __u64 flags, dirty; } modes[] = {
		[PM_DIRTY_SOFT] = { 0, PAGE_IS_SOFT_DIRTY },
		[PM_DIRTY_WRITTEN] = { PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				       PAGE_IS_WRITTEN },
		[PM_DIRTY_ALL_WP] = { PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, 0 },
		[PM_DIRTY_ALL] = { 0, 0 },
	};
	struct page_region vec[VEC_LEN];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = modes[how].flags,
		.start = start,
		.end = end,
		.vec = (__u64)(unsigned long)vec,
		.vec_len = VEC_LEN,
		/* no file page, no zero page ... */
		.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		/* ... present or swapped */
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		/* some category to return, or a kernel may refuse the scan */
		.return_mask = modes[how].dirty ?: PAGE_IS_PRESENT,
	};
	int ret = 0;

	while (a.start < end) {
		long n;

		/* a failed call may have protected pages it did not report */
		ret = scan(fd, &a, vec, &n);
		if (ret)
			break;
		for (long i = 0; i < n && !ret; i++)
			ret = cb(arg, vec[i].start, vec[i].end,
				 !modes[how].dirty || (vec[i].categories & modes[how].dirty));
		if (ret)
			break;
		if (a.walk_end <= a.start) {
			ret = -EIO;	/* no progress: never loop forever */
			break;
		}
		a.start = a.walk_end;
	}
	if (at)
		*at = a.start;
	return ret;
}

static int ignore(void *arg, unsigned long start, unsigned long end, __u64 cat)
{
	return 0;
}

int pm_scan_protect_all(int fd, unsigned long start, unsigned long end, pm_scan_cat_cb cb,
			void *arg)
{
	struct page_region vec[VEC_LEN];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = start,
		.end = end,
		.vec = (__u64)(unsigned long)vec,
		.vec_len = VEC_LEN,
		/* no category asked for: every page, holes too */
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_WRITTEN,
	};
	unsigned long next = start;
	int ret = 0;

	if (!cb)
		cb = ignore;
	while (a.start < end) {
		long n;

		ret = scan(fd, &a, vec, &n);
		if (ret)
			return ret;
		for (long i = 0; i < n && !ret; i++) {
			/* a page the kernel left out is one no category fits: none */
			if (vec[i].start > next)
				ret = cb(arg, next, vec[i].start, 0);
			if (!ret)
				ret = cb(arg, vec[i].start, vec[i].end, vec[i].categories);
			next = vec[i].end;
		}
		if (ret)
			return ret;
		if (a.walk_end <= a.start)
			return -EIO;	/* no progress: never loop forever */
		if (a.walk_end > next) {
			ret = cb(arg, next, a.walk_end, 0);
			if (ret)
				return ret;
			next = a.walk_end;
		}
		a.start = a.walk_end;
	}
	return 0;
}
