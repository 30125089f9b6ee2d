/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The two ways into splice_process_vm for the spvm_*_test.c that are not
 * spvm_abi_test.c (which has its own, with the features query): the device
 * ioctl, and the syscall of a patched kernel, whose number comes only from
 * spvm_sysnr() and answers the probe.  One FIXTURE_VARIANT per entry runs
 * each test on both.
 */
#ifndef MEMSPLICE_SPVM_ENTRY_H
#define MEMSPLICE_SPVM_ENTRY_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#include "spvm_ioctl.h"

#include "methods.h"
#include "spvm_sysnr.h"

/**
 * struct spvm_entry - one way into the kernel core
 * @name:        for messages
 * @is_module:   the module's device (the target is a /proc/PID/mem fd)
 * @unavailable: NULL when usable in this process, else why not
 * @open_target: an fd for spvm_args.target_fd naming @pid, or -1 with errno
 * @call:        one request: bytes attached, or -1 with errno
 */
struct spvm_entry {
	const char *name;
	bool is_module;
	const char *(*unavailable)(void);
	int (*open_target)(pid_t pid);
	long (*call)(struct spvm_args *args);
};

static int dev_fd = -1;

static const char *dev_unavailable(void)
{
	static char why[128];

	if (!method_selected("device"))
		return method_unselected("device");
	if (dev_fd >= 0)
		return NULL;
	dev_fd = open("/dev/" SPVM_DEVICE_NAME, O_RDONLY | O_CLOEXEC);
	if (dev_fd >= 0)
		return NULL;
	snprintf(why, sizeof(why), "/dev/%s: %s", SPVM_DEVICE_NAME, strerror(errno));
	return why;
}

static int dev_open_target(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static long dev_call(struct spvm_args *args)
{
	return ioctl(dev_fd, SPVM_IOC_SPLICE, args);
}

static const struct spvm_entry device_entry = {
	.name		= "device",
	.is_module	= true,
	.unavailable	= dev_unavailable,
	.open_target	= dev_open_target,
	.call		= dev_call,
};

static long sys_nr = -1;

/* spvm_sysnr()'s number, once it answered the probe; never a guessed one. */
static const char *sys_unavailable(void)
{
	static char why[256];
	long nr;

	if (!method_selected("syscall"))
		return method_unselected("syscall");
	if (sys_nr > 0)
		return NULL;
	nr = spvm_sysnr_probe(why, sizeof(why));
	if (nr < 0)
		return why;
	sys_nr = nr;
	return NULL;
}

static int sys_open_target(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static long sys_call(struct spvm_args *args)
{
	return syscall(sys_nr, args);
}

static const struct spvm_entry syscall_entry = {
	.name		= "syscall",
	.is_module	= false,
	.unavailable	= sys_unavailable,
	.open_target	= sys_open_target,
	.call		= sys_call,
};

static inline long spvm(const struct spvm_entry *e, int target, int pipe_fd,
			unsigned long addr, size_t len)
{
	struct spvm_iovec iov = { .base = addr, .len = len };
	struct spvm_args a = {
		.size = sizeof(a),
		.target_fd = target,
		.pipe_fd = pipe_fd,
		.iov = (uintptr_t)&iov,
		.iovcnt = 1,
	};

	return e->call(&a);
}

#endif /* MEMSPLICE_SPVM_ENTRY_H */
