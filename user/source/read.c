// SPDX-License-Identifier: GPL-2.0
/*
 * The copying source: process_vm_readv into one fixed buffer, so the
 * dumper's memory never grows with the tree.  VMAs without PROT_READ are
 * read through /proc/PID/mem, which (like ptrace) may read them without
 * changing the target.  A partial read returns what was read: the caller
 * trims its pagemap run to it.
 */
#define LOG_PREFIX "source-read: "
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "source/source.h"
#include "tree/target.h"
#include "util.h"

struct source_read {
	void *buf;
};

static int read_probe(char *why, size_t len)
{
	char c = 0, d;
	struct iovec l = { &d, 1 }, r = { &c, 1 };

	if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 1)
		return 0;
	snprintf(why, len, "process_vm_readv: %s%s", strerror(errno),
		 errno == ENOSYS ? " (CONFIG_CROSS_MEMORY_ATTACH off)" : "");
	return -errno;
}

static int read_create(struct page_source *src, const struct source_opts *opts)
{
	struct source_read *sr = calloc(1, sizeof(*sr));

	if (!sr) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	src->buffer_size = opts->buffer_size;
	sr->buf = mmap(NULL, opts->buffer_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sr->buf == MAP_FAILED) {
		int ret = -errno;

		pr_errno(ret, "cannot map a buffer of %zu bytes", opts->buffer_size);
		free(sr);
		return ret;
	}
	src->priv = sr;
	return 0;
}

static void read_destroy(struct page_source *src)
{
	struct source_read *sr = src->priv;

	munmap(sr->buf, src->buffer_size);
	free(sr);
	src->priv = NULL;
}

static int read_attach(struct page_source *src, const struct target *t)
{
	src->target = t;
	return 0;
}

static int read_detach(struct page_source *src)
{
	src->target = NULL;
	return 0;
}

/* /proc/PID/mem, opened while frozen: the process's own mm, whoever has its pid now */
static ssize_t read_forced(struct page_source *src, const struct src_range *r)
{
	struct source_read *sr = src->priv;
	ssize_t n;

	n = pread_all(src->target->mem_fd, sr->buf, r->len, r->addr);
	if (n == 0)
		return -ESRCH;	/* the mm is gone: /proc/PID/mem reads nothing */
	if (n == -EIO)
		return -EFAULT;	/* unmapped first page */
	return n;
}

static ssize_t read_fill(struct page_source *src, const struct src_range *r,
			 struct page_data *data)
{
	struct source_read *sr = src->priv;
	ssize_t n;

	if (r->force) {
		n = read_forced(src, r);
	} else {
		struct iovec l = { sr->buf, r->len };
		struct iovec rv = { (void *)r->addr, r->len };

		n = process_vm_readv(src->target->pid, &l, 1, &rv, 1, 0);
		if (n < 0)
			n = -errno;
		/* still there afterwards: the pid was its own during the call */
		if (target_gone(src->target))
			n = -ESRCH;
	}
	if (n <= 0)
		return n;
	n &= ~(ssize_t)(PAGE_SIZE - 1);
	if (!n)
		return -EFAULT;
	data->buf = sr->buf;
	data->pipe_fd = -1;
	data->len = n;
	return n;
}

const struct page_source_ops source_read_ops = {
	.name			= "read",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 2,
	.probe			= read_probe,
	.create			= read_create,
	.destroy		= read_destroy,
	.attach			= read_attach,
	.detach			= read_detach,
	.fill			= read_fill,
};
