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

int pm_scan_dumpable(int fd, unsigned long start, unsigned long end, pm_scan_cb cb, void *arg)
{
	struct page_region vec[VEC_LEN];
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.start = start,
		.end = end,
		.vec = (__u64)(unsigned long)vec,
		.vec_len = VEC_LEN,
		/* no file page, no zero page ... */
		.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		.category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO,
		/* ... present or swapped */
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_SOFT_DIRTY,
	};

	while (a.start < end) {
		long n;
		int ret = scan(fd, &a, vec, &n);

		if (ret)
			return ret;
		for (long i = 0; i < n; i++) {
			ret = cb(arg, vec[i].start, vec[i].end,
				 vec[i].categories & PAGE_IS_SOFT_DIRTY);
			if (ret)
				return ret;
		}
		if (a.walk_end <= a.start)
			return -EIO;	/* no progress: never loop forever */
		a.start = a.walk_end;
	}
	return 0;
}
