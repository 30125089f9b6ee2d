// SPDX-License-Identifier: GPL-2.0
#define LOG_PREFIX "target: "
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "tree/target.h"
#include "util.h"

int target_open(struct target *t, pid_t tgid, pid_t pid)
{
	int ret;

	t->pid = pid;
	t->pidfd = syscall(SYS_pidfd_open, tgid, 0);
	if (t->pidfd < 0) {
		ret = -errno;
		goto err;
	}
	t->mem_fd = open_proc(pid, "mem", O_RDONLY);
	if (t->mem_fd < 0) {
		ret = t->mem_fd == -ENOENT ? -ESRCH : t->mem_fd;
		goto err_pidfd;
	}
	t->pagemap_fd = open_proc(pid, "pagemap", O_RDONLY);
	if (t->pagemap_fd < 0) {
		ret = t->pagemap_fd == -ENOENT ? -ESRCH : t->pagemap_fd;
		goto err_mem;
	}
	return 0;

err_mem:
	close(t->mem_fd);
err_pidfd:
	close(t->pidfd);
err:
	t->pidfd = t->mem_fd = t->pagemap_fd = -1;
	return ret;
}

int target_dup(const struct target *from, struct target *to)
{
	const int *src[] = { &from->pidfd, &from->mem_fd, &from->pagemap_fd };
	int *dst[] = { &to->pidfd, &to->mem_fd, &to->pagemap_fd };

	to->pid = from->pid;
	to->pidfd = to->mem_fd = to->pagemap_fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(src); i++) {
		if (*src[i] < 0)
			continue;
		*dst[i] = fcntl(*src[i], F_DUPFD_CLOEXEC, 0);
		if (*dst[i] < 0) {
			int ret = -errno;

			target_close(to);
			return ret;
		}
	}
	return 0;
}

void target_close(struct target *t)
{
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->mem_fd >= 0)
		close(t->mem_fd);
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	t->pidfd = t->mem_fd = t->pagemap_fd = -1;
}

bool target_gone(const struct target *t)
{
	uint64_t pme;

	/* signal 0 checks only; a zombie still holds its pid and answers */
	if (syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
		return true;
	/*
	 * pagemap was opened on the memory that was frozen: once that mm is
	 * released (exit, or an exec replaced it) it reads nothing at all,
	 * where a live mm gives an entry even for an unmapped address.
	 */
	return t->pagemap_fd >= 0 && pread(t->pagemap_fd, &pme, sizeof(pme), 0) == 0;
}
