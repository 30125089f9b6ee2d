// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall backend: a kernel carrying the splice_process_vm series
 * (kernel/patches/) attaches the target's pages to our pipe by reference,
 * exactly as the device does, and the sink splices them into the pages
 * file.  The target is named by a pidfd; the kernel makes the ptrace-attach
 * check of process_vm_readv() at every call.
 *
 * The series is carried out of tree, so its number may belong to another
 * syscall on other kernels (451 is cachestat since 6.5).  The only number
 * ever issued is the one the kernel publishes in SPVM_SYSFS_NR: no file, no
 * syscall.  probe() then makes the documented side-effect-free call (both
 * fds -1) to check that the number really speaks struct spvm_args.
 */
#define LOG_PREFIX "source-syscall: "
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "log.h"
#include "source.h"
#include "spvm-pipe.h"
#include "target.h"
#include "util.h"

struct source_syscall {
	long nr;		/* from SPVM_SYSFS_NR */
	bool warned_force;
	struct spvm_pipe pipe;
};

/* The published number, strictly "DIGITS\n"; 0 or -errno with @why set. */
static int syscall_nr(long *nr, char *why, size_t len)
{
	char *s, *end;
	long n;
	int ret;

	ret = read_file(SPVM_SYSFS_NR, &s, NULL);
	if (ret) {
		if (ret == -ENOENT)
			snprintf(why, len, "kernel without splice_process_vm() (no %s)",
				 SPVM_SYSFS_NR);
		else
			snprintf(why, len, "%s: %s", SPVM_SYSFS_NR, strerror(-ret));
		return ret;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	ret = errno || end == s || (*end && strcmp(end, "\n")) || n <= 0 || n > 4095;
	free(s);
	if (ret) {
		snprintf(why, len, "%s does not hold a syscall number", SPVM_SYSFS_NR);
		return -EPROTO;
	}
	*nr = n;
	return 0;
}

/* A request with fds of -1: EINVAL if @flags are unknown, else EBADF. */
static int syscall_flags_ok(long nr, __u64 flags, char *why, size_t len)
{
	struct spvm_args args = {
		.size		= sizeof(args),
		.flags		= flags,
		.target_fd	= -1,
		.pipe_fd	= -1,
	};

	long ret = syscall(nr, &args);
	int err = ret < 0 ? errno : 0;

	if (err == EBADF)
		return 0;
	if (err == ENOSYS)
		snprintf(why, len, "syscall %ld: ENOSYS (filtered by seccomp?)", nr);
	else
		snprintf(why, len, "syscall %ld does not take struct spvm_args (flags %#llx: %s)",
			 nr, (unsigned long long)flags, err ? strerror(err) : "no error");
	return -EPROTONOSUPPORT;
}

static int syscall_probe(char *why, size_t len)
{
	long nr;
	int ret;

	ret = syscall_nr(&nr, why, len);
	if (!ret)
		ret = syscall_flags_ok(nr, SPVM_NONBLOCK | SPVM_FORCE, why, len);
	return ret;
}

static int syscall_create(struct page_source *src, const struct source_opts *opts)
{
	struct source_syscall *ss;
	char why[256];
	int ret;

	ss = calloc(1, sizeof(*ss));
	if (!ss) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ret = syscall_nr(&ss->nr, why, sizeof(why));
	if (!ret)
		ret = syscall_flags_ok(ss->nr, SPVM_NONBLOCK | SPVM_FORCE, why, sizeof(why));
	if (ret) {
		pr_err("%s", why);
		goto err_free;
	}
	ret = spvm_pipe_create(&ss->pipe, opts->buffer_size);
	if (ret) {
		pr_errno(ret, "cannot create the pipe");
		goto err_free;
	}
	src->buffer_size = ss->pipe.size;
	src->priv = ss;
	return 0;

err_free:
	free(ss);
	return ret;
}

static void syscall_destroy(struct page_source *src)
{
	struct source_syscall *ss = src->priv;

	spvm_pipe_destroy(&ss->pipe);
	free(ss);
	src->priv = NULL;
}

static int syscall_attach(struct page_source *src, const struct target *t)
{
	src->target = t;
	return 0;
}

static int syscall_detach(struct page_source *src)
{
	src->target = NULL;
	return 0;
}

static long syscall_call(void *ctx, struct spvm_args *args)
{
	struct source_syscall *ss = ctx;
	long n = syscall(ss->nr, args);

	return n < 0 ? -errno : n;
}

static ssize_t syscall_fill(struct page_source *src, const struct src_range *r,
			    struct page_data *data)
{
	struct source_syscall *ss = src->priv;
	ssize_t n;

	n = spvm_pipe_fill(&ss->pipe, syscall_call, ss, src->target->pidfd, r, data);
	if (n == -EPERM && r->force && !ss->warned_force) {
		/* proc_mem.force_override: /proc/PID/mem would not force either */
		pr_warn("reading a mapping without PROT_READ refused (EPERM): "
			"proc_mem.force_override?");
		ss->warned_force = true;
	}
	return n;
}

/* Same transfer rules as the device: see source-device.c. */
const struct page_source_ops source_syscall_ops = {
	.name			= "syscall",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 1,
	.probe			= syscall_probe,
	.create			= syscall_create,
	.destroy		= syscall_destroy,
	.attach			= syscall_attach,
	.detach			= syscall_detach,
	.fill			= syscall_fill,
};
