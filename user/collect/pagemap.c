// SPDX-License-Identifier: GPL-2.0
/*
 * Reading /proc/PID/pagemap and the facts about this kernel needed to read
 * it right: where the zero page is (never dump it), and whether soft-dirty
 * bits exist at all (CONFIG_MEM_SOFT_DIRTY; without it they stay 0 and a
 * tracked pre-dump would silently write nothing).
 */
#define LOG_PREFIX "pagemap: "
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collect/pagemap-scan.h"
#include "collect/pagemap.h"
#include "log.h"
#include "util.h"

int pagemap_read(int fd, unsigned long addr, unsigned long nr, uint64_t *pme)
{
	size_t len = nr * sizeof(*pme);
	ssize_t n;

	n = pread_all(fd, pme, len, (addr / PAGE_SIZE) * sizeof(*pme));
	if (n < 0)
		return n;
	if ((size_t)n != len)
		return -ESRCH;	/* short read: the mm went away */
	return 0;
}

bool pme_wanted(const struct kerndat *kd, uint64_t pme, bool file_private)
{
	if (pme & PME_SWAP)
		return true;
	if (!(pme & PME_PRESENT))
		return false;
	/* a private file page that was never written is still the file's page */
	if (file_private && (pme & PME_FILE))
		return false;
	if (kd->zero_pfn && (pme & PME_PFN_MASK) == kd->zero_pfn)
		return false;
	return true;
}

static int self_pme(void *addr, uint64_t *pme, bool *scan)
{
	int fd, ret;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = pagemap_read(fd, (unsigned long)addr, 1, pme);
	if (scan)
		*scan = pm_scan_supported(fd);
	close(fd);
	return ret;
}

int kerndat_probe(struct kerndat *kd)
{
	volatile char *p;
	uint64_t pme;
	int ret;

	memset(kd, 0, sizeof(*kd));
	p = mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise((void *)p, 2 * PAGE_SIZE, MADV_NOHUGEPAGE);

	/* a read fault maps the shared zero page */
	(void)p[0];
	ret = self_pme((void *)p, &pme, &kd->pagemap_scan);
	if (ret)
		goto out;
	if (pme & PME_PRESENT)
		kd->zero_pfn = pme & PME_PFN_MASK;

	/* soft-dirty: a written page must show bit 55 (it is set on fault) */
	p[PAGE_SIZE] = 1;
	ret = self_pme((void *)(p + PAGE_SIZE), &pme, NULL);
	if (ret)
		goto out;
	kd->soft_dirty = pme & PME_SOFT_DIRTY;
	kd->proc_children = !access("/proc/thread-self/children", R_OK);
	pr_debug("zero pfn %#llx, soft-dirty %s", (unsigned long long)kd->zero_pfn,
		 kd->soft_dirty ? "yes" : "no");
out:
	munmap((void *)p, 2 * PAGE_SIZE);
	return ret;
}

int clear_soft_dirty(pid_t pid)
{
	int fd, ret;

	fd = open_proc(pid, "clear_refs", O_WRONLY);
	if (fd < 0)
		return fd;
	ret = write_all(fd, "4", 1);
	close(fd);
	return ret;
}
