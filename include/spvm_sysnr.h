/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The number splice_process_vm() has on the running kernel, if any; for
 * memsplice and its tests alike.
 *
 * The series (kernel/patches/, against 6.12) takes 463, the next free
 * number of 6.12; 6.13 gave 463 to setxattrat(), so 463 is tried on 6.12
 * kernels only.  The 6.1 backport (kernel/patches/backport-6.1/) takes 511
 * and publishes it in SPVM_SYSFS_NR, which is read first.  No other number
 * is ever issued.  Callers then make the probing call the interface
 * defines (no range: 0, EINVAL for unknown flags, ENOSYS on a 6.12 kernel
 * without the series) before using it.
 */
#ifndef MEMSPLICE_SPVM_SYSNR_H
#define MEMSPLICE_SPVM_SYSNR_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/splice_process_vm.h>

#define SPVM_NR_SERIES		463
#define SPVM_NR_SERIES_KERNEL	"6.12"
/* the 6.1 backport's number file (its patch 4) */
#define SPVM_SYSFS_NR		"/sys/kernel/splice_process_vm/nr"

/* The number to probe (> 0), or -errno with @why saying why there is none. */
static inline long spvm_sysnr(char *why, size_t len)
{
	const size_t series = strlen(SPVM_NR_SERIES_KERNEL);
	char buf[32], *end;
	struct utsname u;
	ssize_t n;
	long nr;
	int fd;

	fd = open(SPVM_SYSFS_NR, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		errno = 0;
		nr = strtol(buf, &end, 10);
		if (n <= 0 || errno || end == buf || (*end && strcmp(end, "\n")) ||
		    nr <= 0 || nr > 4095) {
			snprintf(why, len, "%s does not hold a syscall number", SPVM_SYSFS_NR);
			return -EPROTO;
		}
		return nr;
	}
	if (uname(&u) == 0 && !strncmp(u.release, SPVM_NR_SERIES_KERNEL, series) &&
	    (u.release[series] == '.' || u.release[series] == '-' ||
	     u.release[series] == '+' || !u.release[series]))
		return SPVM_NR_SERIES;
	snprintf(why, len, "kernel without splice_process_vm(): no %s, and %d is its number on %s only",
		 SPVM_SYSFS_NR, SPVM_NR_SERIES, SPVM_NR_SERIES_KERNEL);
	return -ENOENT;
}

/*
 * The errno of the call the interface defines for probing: no range, a
 * pidfd of this process and a pipe; 0 where the call takes @flags, EINVAL
 * where it does not, ENOSYS without the call.  No side effect.
 */
static inline int spvm_sysnr_try(long nr, __u64 flags)
{
	struct spvm_args probe = { .size = sizeof(probe), .flags = flags };
	int p[2], pidfd, err;

	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return errno;
	if (pipe2(p, O_CLOEXEC)) {
		err = errno;
		close(pidfd);
		return err;
	}
	probe.target_fd = pidfd;
	probe.pipe_fd = p[1];
	err = syscall(nr, &probe) < 0 ? errno : 0;
	close(p[0]);
	close(p[1]);
	close(pidfd);
	return err;
}

/* spvm_sysnr()'s number if it answers the probe, else -errno. */
static inline long spvm_sysnr_probe(char *why, size_t len)
{
	long nr = spvm_sysnr(why, len);
	int err;

	if (nr < 0)
		return nr;
	err = spvm_sysnr_try(nr, 0);
	if (!err)
		return nr;
	snprintf(why, len, "kernel without splice_process_vm() (syscall %ld: %s)",
		 nr, err ? strerror(err) : "no error");
	return -ENOSYS;
}

#endif /* MEMSPLICE_SPVM_SYSNR_H */
