// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall source: a kernel carrying the splice_process_vm series
 * (kernel/patches/) attaches the target's pages to our pipe by reference,
 * exactly as the device does, and the sink splices them into the pages
 * file.  The target is named by its pidfd (opened while frozen); the kernel
 * makes the ptrace-attach check of process_vm_readv() at every call.  The
 * pipe and the fill are the splice_process_vm source's (source-spvm.c).
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
#include "source/source.h"
#include "source/spvm.h"
#include "tree/target.h"
#include "util.h"

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

static bool syscall_offers(long handle, __u64 flag)
{
	char why[256];

	return !syscall_flags_ok(handle, flag, why, sizeof(why));
}

static int syscall_probe(char *why, size_t len)
{
	long nr;
	int ret;

	ret = syscall_nr(&nr, why, len);
	if (!ret)
		ret = syscall_flags_ok(nr, SPVM_NONBLOCK | SPVM_FORCE, why, len);
	if (!ret)
		snprintf(why, len, "%s", syscall_offers(nr, SPVM_STABLE) ?
			 "pre-dumps copy pages (SPVM_STABLE)" :
			 "no SPVM_STABLE: pre-dump pages are references");
	return ret;
}

/* the published number, checked: it is the entry's handle */
static int syscall_open(long *handle)
{
	char why[256];
	int ret;

	ret = syscall_nr(handle, why, sizeof(why));
	if (!ret)
		ret = syscall_flags_ok(*handle, SPVM_NONBLOCK | SPVM_FORCE, why, sizeof(why));
	if (ret)
		pr_err("%s", why);
	return ret;
}

static void syscall_close(long handle)
{
}

static long syscall_call(long handle, struct spvm_args *args)
{
	long n = syscall(handle, args);

	return n < 0 ? -errno : n;
}

static int syscall_target_fd(const struct target *t)
{
	return t->pidfd;
}

static const struct spvm_entry syscall_entry = {
	.open		= syscall_open,
	.close		= syscall_close,
	.call		= syscall_call,
	.target_fd	= syscall_target_fd,
	.offers		= syscall_offers,
};

static int syscall_create(struct page_source *src, const struct source_opts *opts)
{
	return spvm_create(src, opts, &syscall_entry);
}

/* Same transfer rules as the device, SPVM_STABLE included: see device.c. */
const struct page_source_ops source_syscall_ops = {
	.name			= "syscall",
	.xfer_while_frozen	= false,
	.pre_dump_mode		= 1,
	.probe			= syscall_probe,
	.create			= syscall_create,
	.destroy		= spvm_destroy,
	.attach			= spvm_attach,
	.detach			= spvm_detach,
	.fill			= spvm_fill,
};
