// SPDX-License-Identifier: GPL-2.0
/* The splice_process_vm source: see spvm.h. */
#define LOG_PREFIX "source-spvm: "
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "source/spvm.h"
#include "tree/target.h"
#include "util.h"

struct spvm_src {
	const struct spvm_entry *entry;
	long handle;		/* the entry's: device fd, syscall number */
	int rd, wr;		/* the pipe */
	size_t size;		/* its capacity in bytes: the largest fill */
	__u64 mode;		/* SPVM_PIN, SPVM_STABLE or 0: see spvm.h */
	bool warned_force;
};

/*
 * A pipe of min(@want, /proc/sys/fs/pipe-max-size) bytes, or smaller when
 * the user's pipe quota says so (->size tells).
 */
static int pipe_create(struct spvm_src *ss, size_t want)
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
	ss->rd = fds[0];
	ss->wr = fds[1];
	ss->size = size;
	return 0;
}

const char *spvm_mode_said(bool pin, bool stable)
{
	if (pin)
		return "dumps pin pages (SPVM_PIN), pre-dumps copy them";
	if (stable)
		return "pre-dumps copy pages (SPVM_STABLE)";
	return "no SPVM_STABLE: pre-dump pages are references";
}

/* See spvm.h: the flag that gets what the pass needs from this kernel. */
static __u64 spvm_mode(const struct source_opts *opts, const struct spvm_entry *entry,
		       long handle)
{
	bool pin = entry->offers(handle, SPVM_PIN);

	if (!opts->stable)
		return pin ? SPVM_PIN : 0;
	if (entry->offers(handle, SPVM_STABLE))
		return SPVM_STABLE;
	if (!pin)
		pr_info("no SPVM_STABLE in this kernel: pages are references until the sink takes them");
	return 0;
}

int spvm_create(struct page_source *src, const struct source_opts *opts,
		const struct spvm_entry *entry)
{
	struct spvm_src *ss = calloc(1, sizeof(*ss));
	int ret;

	if (!ss) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ss->entry = entry;
	ret = entry->open(&ss->handle);	/* says why it failed */
	if (ret)
		goto err_free;
	ret = pipe_create(ss, opts->buffer_size);
	if (ret) {
		pr_errno(ret, "cannot create the pipe");
		goto err_close;
	}
	ss->mode = spvm_mode(opts, entry, ss->handle);
	src->buffer_size = ss->size;
	src->priv = ss;
	return 0;

err_close:
	entry->close(ss->handle);
err_free:
	free(ss);
	return ret;
}

void spvm_destroy(struct page_source *src)
{
	struct spvm_src *ss = src->priv;

	close(ss->rd);
	close(ss->wr);
	ss->entry->close(ss->handle);
	free(ss);
	src->priv = NULL;
}

int spvm_attach(struct page_source *src, const struct target *t)
{
	src->target = t;
	return 0;
}

int spvm_detach(struct page_source *src)
{
	src->target = NULL;
	return 0;
}

/* empty the pipe of @len bytes no sink may have */
static int discard(struct spvm_src *ss, size_t len)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), ret = 0;

	if (null < 0)
		return -errno;
	while (len && !ret) {
		ssize_t n = splice(ss->rd, NULL, null, NULL, len, 0);

		if (n > 0)
			len -= n;
		else if (n == 0)
			ret = -EIO;
		else if (errno != EINTR)
			ret = -errno;
	}
	close(null);
	return ret;
}

ssize_t spvm_fill(struct page_source *src, const struct src_range *r, struct page_data *data)
{
	struct spvm_src *ss = src->priv;
	struct spvm_iovec iov = { .base = r->addr, .len = r->len };
	struct spvm_args args = {
		.size		= sizeof(args),
		/*
		 * Never wait: the pipe is empty here, and a dumper blocked on
		 * its own pipe with the tree frozen would be the worst outcome.
		 */
		.flags		= SPVM_NONBLOCK | (r->force ? SPVM_FORCE : 0) | ss->mode,
		.target_fd	= ss->entry->target_fd(src->target),
		.pipe_fd	= ss->wr,
		.iov		= (uintptr_t)&iov,
		.iovcnt		= 1,
	};
	long n;

	if (r->len > ss->size || (r->addr | r->len) & (PAGE_SIZE - 1))
		return -EINVAL;
	n = ss->entry->call(ss->handle, &args);
	if (n == -ENOMEM && (ss->mode & SPVM_PIN)) {
		/* over RLIMIT_MEMLOCK without CAP_IPC_LOCK: copies need no lock */
		pr_info("pinning refused (RLIMIT_MEMLOCK): copying instead");
		ss->mode &= ~SPVM_PIN;
		args.flags &= ~SPVM_PIN;
		n = ss->entry->call(ss->handle, &args);
	}
	if (n == -EPERM && r->force && !ss->warned_force) {
		/* /proc/PID/mem would not force either (proc_mem.force_override) */
		pr_warn("reading a mapping without PROT_READ is not allowed on this system");
		ss->warned_force = true;
	}
	if (n < 0)
		return n;
	if (n == 0 || n & (PAGE_SIZE - 1))
		return -EIO;	/* impossible for a page-aligned request */
	/*
	 * A pidfd names the process, not the memory that was frozen: after an
	 * exec it names another program's.  Such pages never reach a sink.
	 */
	if (target_gone(src->target))
		return discard(ss, n) ? -EIO : -ESRCH;
	data->buf = NULL;
	data->pipe_fd = ss->rd;
	data->len = n;
	return n;
}
