// SPDX-License-Identifier: GPL-2.0
/*
 * The /proc/PID/mem splice source.  On a kernel whose /proc/PID/mem has
 * ->read_iter and ->splice_read (kernel/patches/proc-mem-splice/), splice()
 * from the target's /proc/PID/mem copies its pages into our pipe, and the
 * sink splices them on: one copy into the pipe, like the syscall's default,
 * with no new ABI and /proc/PID/mem's permission policy (the file was
 * opened while the tree was frozen: the ptrace-attach check, and the mm it
 * pins).  Stock kernels refuse splice() from that file (EINVAL): probe()
 * says so.  The pipe and the fill are the splice_process_vm source's
 * (spvm.c): this is one more way to make its request.
 */
#define LOG_PREFIX "source-procmem: "
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "source/source.h"
#include "source/spvm.h"
#include "tree/target.h"
#include "util.h"

/* Splice one byte of a page of ours through /proc/self/mem; 0 or -errno. */
static int procmem_try(char *why, size_t len)
{
	int mem, p[2] = { -1, -1 }, ret;
	loff_t off;
	char *page;
	ssize_t n;

	page = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -errno;
	page[0] = 1;
	off = (uintptr_t)page;
	mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ret = mem < 0 || pipe2(p, O_CLOEXEC) ? -errno : 0;
	if (!ret) {
		n = splice(mem, &off, p[1], NULL, 1, SPLICE_F_NONBLOCK);
		ret = n == 1 ? 0 : n < 0 ? -errno : -EIO;
	}
	if (ret == -EINVAL)
		snprintf(why, len, "splice() from /proc/PID/mem: EINVAL (a kernel without "
			 "the /proc/PID/mem splice patch)");
	else if (ret)
		snprintf(why, len, "splice() from /proc/self/mem: %s", strerror(-ret));
	if (p[0] >= 0) {
		close(p[0]);
		close(p[1]);
	}
	if (mem >= 0)
		close(mem);
	munmap(page, PAGE_SIZE);
	return ret;
}

static int procmem_probe(char *why, size_t len)
{
	int ret = procmem_try(why, len);

	if (!ret)
		snprintf(why, len, "splice() from /proc/PID/mem copies pages into the pipe");
	return ret;
}

static int procmem_open(long *handle)
{
	char why[256];
	int ret = procmem_try(why, sizeof(why));

	if (ret)
		pr_err("%s", why);
	*handle = 0;
	return ret;
}

static void procmem_close(long handle)
{
}

/*
 * The request spvm_fill() makes (one range, the pipe empty and as large):
 * splice() until the range is in the pipe or a page cannot be read.  The
 * file forces where /proc/PID/mem may (SPVM_FORCE is implied).  Errors as
 * the syscall's: EFAULT for an unreadable first page (/proc/PID/mem says
 * EIO), ESRCH when the mm is gone (it then reads nothing).
 */
static long procmem_call(long handle, struct spvm_args *args)
{
	const struct spvm_iovec *iov = (const void *)(uintptr_t)args->iov;
	loff_t off = iov->base;
	size_t left = iov->len;
	long total = 0;
	ssize_t n = 0;

	while (left) {
		n = splice(args->target_fd, &off, args->pipe_fd, NULL, left, SPLICE_F_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		left -= n;
	}
	if (total)
		return total;
	if (n == 0)
		return -ESRCH;
	return errno == EIO ? -EFAULT : -errno;
}

static int procmem_target_fd(const struct target *t)
{
	return t->mem_fd;
}

/* the flags spvm_fill() may pass that this way honours */
static bool procmem_offers(long handle, __u64 flag)
{
	return !(flag & ~(__u64)(SPVM_NONBLOCK | SPVM_FORCE));
}

static const struct spvm_entry procmem_entry = {
	.open		= procmem_open,
	.close		= procmem_close,
	.call		= procmem_call,
	.target_fd	= procmem_target_fd,
	.offers		= procmem_offers,
};

static int procmem_create(struct page_source *src, const struct source_opts *opts)
{
	return spvm_create(src, opts, &procmem_entry);
}

/* Copies made by splice(): a pre-dump's pages are a snapshot, as read's. */
const struct page_source_ops source_procmem_ops = {
	.name			= "procmem",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 1,
	.probe			= procmem_probe,
	.create			= procmem_create,
	.destroy		= spvm_destroy,
	.attach			= spvm_attach,
	.detach			= spvm_detach,
	.fill			= spvm_fill,
};
