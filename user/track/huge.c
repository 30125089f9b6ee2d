// SPDX-License-Identifier: GPL-2.0
/* whether the kernel keeps a write-protected THP whole: see huge.h */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "collect/pagemap-scan.h"
#include "track/huge.h"
#include "track/uffd.h"

#define PMD_SIZE_FILE	"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

static long pmd_size(void)
{
	char buf[32] = "";
	int fd = open(PMD_SIZE_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -EOPNOTSUPP;	/* no THP in this kernel */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -EOPNOTSUPP;
}

/* protect [@at, @at + @len), write a byte, and see whether a THP is left */
static int try_write(int pagemap, char *at, long len)
{
	struct uffdio_register r = {
		.range = { .start = (unsigned long)at, .len = len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int fd, ret;

	ret = uffd_open(&fd);
	if (ret)
		return ret;
	if (ioctl(fd, UFFDIO_REGISTER, &r) < 0) {
		ret = -errno;
		goto out;
	}
	ret = pm_scan_protect_all(pagemap, (unsigned long)at, (unsigned long)at + len, NULL,
				  NULL);
	if (ret)
		goto out;
	at[len / 2] = 1;
	ret = pm_scan_has_huge(pagemap, (unsigned long)at, (unsigned long)at + len);
out:
	close(fd);	/* unregisters */
	return ret;
}

int uffd_thp_kept(void)
{
	long len = pmd_size();
	char *map, *at;
	int pagemap, ret;

	if (len <= 0)
		return -EOPNOTSUPP;
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0)
		return -errno;
	map = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto out;
	}
	at = (char *)(((uintptr_t)map + len - 1) & ~(uintptr_t)(len - 1));
	if (madvise(at, len, MADV_HUGEPAGE)) {
		ret = -EOPNOTSUPP;
		goto unmap;
	}
	memset(at, 0x5a, len);
	ret = pm_scan_has_huge(pagemap, (unsigned long)at, (unsigned long)at + len);
	if (ret == 1)
		ret = try_write(pagemap, at, len);
	else if (!ret)
		ret = -EOPNOTSUPP;	/* the kernel gave no THP */
unmap:
	munmap(map, 2 * len);
out:
	close(pagemap);
	return ret;
}
