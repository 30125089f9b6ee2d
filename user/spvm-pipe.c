// SPDX-License-Identifier: GPL-2.0
/* The pipe of the splice_process_vm backends: see spvm-pipe.h. */
#define LOG_PREFIX "spvm-pipe: "
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spvm-pipe.h"
#include "util.h"

int spvm_pipe_create(struct spvm_pipe *p, size_t want)
{
	int fds[2], size, ret;
	char *s;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	if (!read_file("/proc/sys/fs/pipe-max-size", &s, NULL)) {
		long max = strtol(s, NULL, 10);

		free(s);
		if (max > 0 && (size_t)max < want)
			want = max;
	}
	/*
	 * Above pipe-user-pages-soft an unprivileged user gets EPERM: keep the
	 * default size then, the dump only needs more fills.
	 */
	if (want >= PAGE_SIZE && fcntl(fds[1], F_SETPIPE_SZ, (int)want) < 0)
		pr_info("pipe of %zu bytes refused (%s): using the default", want,
			strerror(errno));
	size = fcntl(fds[1], F_GETPIPE_SZ);
	if (size < (int)PAGE_SIZE) {
		ret = size < 0 ? -errno : -EINVAL;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	p->rd = fds[0];
	p->wr = fds[1];
	p->size = size;
	return 0;
}

void spvm_pipe_destroy(struct spvm_pipe *p)
{
	if (p->rd >= 0)
		close(p->rd);
	if (p->wr >= 0)
		close(p->wr);
	p->rd = p->wr = -1;
}

ssize_t spvm_pipe_fill(struct spvm_pipe *p, spvm_call_fn call, void *ctx,
		       int target_fd, const struct src_range *r,
		       struct page_data *data)
{
	struct spvm_iovec iov = { .base = r->addr, .len = r->len };
	struct spvm_args args = {
		.size		= sizeof(args),
		/*
		 * Never wait: the pipe is empty here, and a dumper blocked on
		 * its own pipe with the tree frozen would be the worst outcome.
		 */
		.flags		= SPVM_NONBLOCK | (r->force ? SPVM_FORCE : 0),
		.target_fd	= target_fd,
		.pipe_fd	= p->wr,
		.iov		= (uintptr_t)&iov,
		.iovcnt		= 1,
	};
	long n;

	if (r->len > p->size || (r->addr | r->len) & (PAGE_SIZE - 1))
		return -EINVAL;
	n = call(ctx, &args);
	if (n < 0)
		return n;
	if (n == 0 || n & (PAGE_SIZE - 1))
		return -EIO;	/* impossible for a page-aligned request */
	data->buf = NULL;
	data->pipe_fd = p->rd;
	data->len = n;
	return n;
}
