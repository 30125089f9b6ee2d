// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall source: a kernel carrying the splice_process_vm series
 * (kernel/patches/) puts the target's pages into our pipe, copied or
 * pinned (spvm.h says which when), and the sink splices them into the
 * pages file.  The target is named by its pidfd (opened while frozen); the kernel
 * makes the ptrace-attach check of process_vm_readv() at every call.  The
 * pipe and the fill are the splice_process_vm source's (spvm.c).
 *
 * The series is carried out of tree, so its number may belong to another
 * syscall on other kernels (463 is setxattrat() since 6.13).  The only
 * numbers ever issued are those spvm_sysnr() gives: the 6.1 backport's
 * published one, or the series' on 6.12.  probe() then makes the call the
 * interface defines for probing (no range) to check that the number
 * really speaks struct spvm_args, and which flags it takes.
 */
#define LOG_PREFIX "source-syscall: "
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_sysnr.h"

#include "log.h"
#include "source/source.h"
#include "source/spvm.h"
#include "tree/target.h"
#include "util.h"

/* The number to try on this kernel; 0 or -errno with @why set. */
static int syscall_nr(long *nr, char *why, size_t len)
{
	long n = spvm_sysnr(why, len);

	if (n < 0)
		return n;
	*nr = n;
	return 0;
}

/* The probing call: 0 if the call takes @flags, else EINVAL (or ENOSYS). */
static int syscall_flags_ok(long nr, __u64 flags, char *why, size_t len)
{
	int err = spvm_sysnr_try(nr, flags);

	if (!err)
		return 0;
	if (err == ENOSYS)
		snprintf(why, len, "kernel without splice_process_vm() (syscall %ld: ENOSYS)", nr);
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
	long nr = 0;
	int ret;

	ret = syscall_nr(&nr, why, len);
	if (!ret)
		ret = syscall_flags_ok(nr, SPVM_NONBLOCK | SPVM_FORCE, why, len);
	if (!ret)
		snprintf(why, len, "%s", spvm_mode_said(syscall_offers(nr, SPVM_PIN),
							 syscall_offers(nr, SPVM_STABLE)));
	return ret;
}

/* the number, checked: it is the entry's handle */
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

/* Same transfer rules as the device: see device.c and spvm.h. */
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
