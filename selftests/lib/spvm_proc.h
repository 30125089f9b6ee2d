/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The children and /proc readers of the spvm_*_test.c, whichever entry
 * points they use (lib/spvm_entry.h's, or spvm_abi_test.c's own): their
 * exit codes and states, pipes, and the frame of a victim, a child that a
 * command pipe drives and that answers on an ack pipe.  What a victim maps
 * and which commands it knows stay with each test (lib/spvm_victim.h for
 * most).  Header-only: every test is one binary.
 */
#ifndef MEMSPLICE_SPVM_PROC_H
#define MEMSPLICE_SPVM_PROC_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/pattern.h"
#include "lib/procfile.h"

#define NOBODY		65534

/* ---- the pattern, over whole pages ------------------------------------- */

static inline void fill(char *p, unsigned long pages, uint64_t seed)
{
	for (unsigned long i = 0; i < pages; i++)
		pattern_fill(p + i * VPAGE, (unsigned long)(p + i * VPAGE), seed);
}

/* does @p hold the pattern of @pages pages at @addr? */
static inline bool filled(const char *p, unsigned long addr, unsigned long pages,
			  uint64_t seed)
{
	for (unsigned long i = 0; i < pages; i++)
		if (pattern_check(p + i * VPAGE, addr + i * VPAGE, seed) >= 0)
			return false;
	return true;
}

/* ---- children ----------------------------------------------------------- */

static inline int status_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* exit code of @pid (128 + signal when killed), or -1 */
static inline int exit_code(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid ? status_code(status) : -1;
}

/* state letter of /proc/@path/stat (a pid or self/task/TID), 0 when gone */
static inline char state_of(const char *path)
{
	char file[96], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "/proc/%s/stat", path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static inline char pid_state(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "%d", pid);
	return state_of(path);
}

/*
 * Until @path (as for state_of()) sleeps interruptibly: 0, or -1 when it
 * ends or after 60 s.  Callers know the only such sleep left to it is the
 * call under test; this polls a condition, it does not guess a delay.
 */
static inline int wait_path_sleeping(const char *path)
{
	for (int i = 0; i < 60000; i++) {
		char s = state_of(path);

		if (s == 'S')
			return 0;
		if (!s || s == 'Z')
			return -1;
		usleep(1000);
	}
	return -1;
}

static inline int wait_sleeping(pid_t pid)
{
	char path[32];

	snprintf(path, sizeof(path), "%d", pid);
	return wait_path_sleeping(path);
}

/* exit code of @pid, polled; -1 after 60 s, or once seen in 'D' if @unless_stuck */
static inline int exit_code_poll(pid_t pid, bool unless_stuck)
{
	for (int i = 0; i < 60000; i++) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid)
			return status_code(status);
		if (unless_stuck && pid_state(pid) == 'D')
			return -1;
		usleep(1000);
	}
	return -1;
}

/* exit code of @pid, or -1 when it has not exited after 60 s */
static inline int exit_code_within(pid_t pid)
{
	return exit_code_poll(pid, false);
}

/*
 * Exit code of @pid; -1 as soon as it is seen in an uninterruptible sleep
 * ('D': nothing it does may sleep so) or after 60 s.  Polls: it waits for
 * an outcome, it does not order events.  A @pid still running is left to
 * the caller, who kills what holds it.
 */
static inline int exit_code_unless_stuck(pid_t pid)
{
	return exit_code_poll(pid, true);
}

/* the unprivileged user; dumpable again, so that our own children stay readable */
static inline int become_nobody(void)
{
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -1;
	return prctl(PR_SET_DUMPABLE, 1);
}

/* ---- pipes and files ---------------------------------------------------- */

/* read exactly @len bytes; 0 or -1 */
static inline int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* bytes waiting in a pipe, or (size_t)-1 */
static inline size_t pipe_bytes(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? (size_t)-1 : (size_t)n;
}

/* fill the pipe with whole pages until it is full; slots filled */
static inline int pipe_fill(int wfd)
{
	static char junk[VPAGE];
	int fl = fcntl(wfd, F_GETFL), n = 0;

	memset(junk, 'F', sizeof(junk));
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	while (write(wfd, junk, VPAGE) == VPAGE)
		n++;
	fcntl(wfd, F_SETFL, fl);
	return n;
}

/* @n entries of /proc/@pid/pagemap from @addr's on; false when unreadable */
static inline bool pagemap_read(pid_t pid, unsigned long addr, uint64_t *ent, unsigned long n)
{
	char path[64];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = pread(fd, ent, n * 8, addr / VPAGE * 8) == (ssize_t)(n * 8);
	close(fd);
	return ok;
}

/* bit 63 of /proc/PID/pagemap: 1 present, 0 not, -1 on error */
static inline int page_present(pid_t pid, unsigned long addr)
{
	uint64_t ent;

	return pagemap_read(pid, addr, &ent, 1) ? !!(ent >> 63) : -1;
}

/* ---- victims ------------------------------------------------------------ */

/*
 * A victim child: @cmd carries commands to it, @ack its address (first)
 * and its answers back; @target is the entry's proof for it, once open.
 */
struct victim {
	pid_t pid;
	int cmd, ack, target;
	unsigned long addr;
};

#define VICTIM_INIT	((struct victim){ .target = -1, .cmd = -1, .ack = -1 })

/*
 * Fork a victim with its two pipes.  In the child: 0, with v->cmd and
 * v->ack the child's ends (read commands from one, write the address and
 * the answers to the other).  In the parent: the pid, with v->cmd and
 * v->ack the other ends.  -1 with errno when there is no child.
 */
static inline pid_t victim_fork(struct victim *v)
{
	int cmd[2], ack[2];

	if (pipe2(cmd, O_CLOEXEC))
		return -1;
	if (pipe2(ack, O_CLOEXEC))
		goto close_cmd;
	v->pid = fork();
	if (v->pid < 0)
		goto close_ack;
	if (v->pid == 0) {
		close(cmd[1]);
		close(ack[0]);
		v->cmd = cmd[0];
		v->ack = ack[1];
		return 0;
	}
	close(cmd[0]);
	close(ack[1]);
	v->cmd = cmd[1];
	v->ack = ack[0];
	return v->pid;

close_ack:
	close(ack[0]);
	close(ack[1]);
close_cmd:
	close(cmd[0]);
	close(cmd[1]);
	return -1;
}

/* in the parent: the address the victim reports, then its target; 0 or -1 */
static inline int victim_ready(struct victim *v, int (*open_target)(pid_t pid))
{
	if (read(v->ack, &v->addr, sizeof(v->addr)) != sizeof(v->addr)) {
		errno = ECHILD;
		return -1;
	}
	v->target = open_target(v->pid);
	return v->target < 0 ? -1 : 0;
}

/* one command byte; the victim's one-byte answer, or 0 when it is gone */
static inline char victim_do(struct victim *v, char c)
{
	if (write(v->cmd, &c, 1) != 1 || read(v->ack, &c, 1) != 1)
		return 0;
	return c;
}

/* SIGKILL and reap; the fds stay open */
static inline void victim_kill(struct victim *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	v->pid = 0;
}

static inline void victim_stop(struct victim *v)
{
	victim_kill(v);
	if (v->target >= 0)
		close(v->target);
	if (v->cmd >= 0)
		close(v->cmd);
	if (v->ack >= 0)
		close(v->ack);
	*v = VICTIM_INIT;
}

#endif /* MEMSPLICE_SPVM_PROC_H */
